/** The CSI Identity service: who the plugin is, what it offers, and whether it is ready. */
import type { HandlerTable } from './csi_types.ts';

export const DRIVER_NAME = 'csi.berth.io';
export const DRIVER_VERSION = '0.1.0';

export interface IdentityOptions {
  /** Whether this process serves the Controller service. */
  controller: boolean;
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
      return { capabilities: caps };
    },
    Probe: async () => ({ ready: { value: await opts.ready() } }),
  };
}
