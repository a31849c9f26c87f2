/** The CSI Identity service: who the plugin is, what it offers, and whether it is ready. */
import type { HandlerTable } from './csi_types.ts';

export const DRIVER_NAME = 'csi.berth.io';
export const DRIVER_VERSION = '0.1.0';

export interface IdentityOptions {
  /** Whether this process serves the Controller service. */
  controller: boolean;
  /** Whether it serves GroupController and SnapshotMetadata (a controller backed by the control plane). */
  groupController?: boolean;
  snapshotMetadata?: boolean;
  /** Readiness: the node plugin is ready once its staged records are loaded, the controller once it reaches the control plane. */
  ready: () => Promise<boolean>;
}

export function identityHandlers(opts: IdentityOptions): HandlerTable {
  return {
    GetPluginInfo: async () => ({ name: DRIVER_NAME, vendor_version: DRIVER_VERSION, manifest: { transport: 'iscsi' } }),
    GetPluginCapabilities: async () => {
      const caps: object[] = [{ volume_expansion: { type: 'ONLINE' } }];
      if (opts.controller) {
        caps.unshift({ service: { type: 'CONTROLLER_SERVICE' } }, { service: { type: 'VOLUME_ACCESSIBILITY_CONSTRAINTS' } });
      }
      if (opts.groupController) caps.push({ service: { type: 'GROUP_CONTROLLER_SERVICE' } });
      if (opts.snapshotMetadata) caps.push({ service: { type: 'SNAPSHOT_METADATA_SERVICE' } });
      return { capabilities: caps };
    },
    Probe: async () => ({ ready: { value: await opts.ready() } }),
  };
}
