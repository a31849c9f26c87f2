/**
 * The node side of a volume's transport: turn the publish context into a local block
 * device, and back. Implementations: IscsiadmAttacher (kernel open-iscsi, every real
 * cluster) and UserSpaceAttacher (qemu-storage-daemon + loop, where the kernel has no
 * initiator). Both are idempotent: attaching an attached volume returns the same device,
 * detaching a detached one does nothing.
 */
import { InvalidArgumentError, MissingFieldError } from './csi_errors.ts';
import { PublishContextKey } from './controller_publish.ts';
import { CHAP_MODES, checkStageChap, readChapSecrets, type ChapCredentials, type ChapMode } from './chap_secrets.ts';

export { ChapSecretKey, type ChapCredentials } from './chap_secrets.ts';

/** Where the volume is served; what a restarted node plugin needs to detach it. */
export interface TargetAddress {
  portal: string;
  iqn: string;
  lun: number;
}

export interface AttachRequest extends TargetAddress {
  volumeId: string;
  /** Never persisted, never logged. */
  chap?: ChapCredentials;
}

export interface AttachedDevice {
  devicePath: string;
  /** Attacher-specific facts (loop device, daemon pid file...) kept in the staged record. */
  handle: Record<string, string>;
}

export interface Attacher {
  /** Recorded with each staged volume so a restart detaches with the same kind. */
  readonly kind: string;
  attach(req: AttachRequest): Promise<AttachedDevice>;
  /**
   * Releases the device. `lastUserOfTarget` is false while another staged volume still
   * uses the same target session (iSCSI logs out only when the last user is gone).
   */
  detach(volumeId: string, target: TargetAddress, device: AttachedDevice, lastUserOfTarget: boolean): Promise<void>;
  /** Makes the device show a LUN's new size after the controller grew it. */
  rescan(volumeId: string, target: TargetAddress, device: AttachedDevice, newSizeBytes: number): Promise<void>;
  /** Undefined when healthy; otherwise what is wrong (for VOLUME_CONDITION). */
  problem(device: AttachedDevice): Promise<string | undefined>;
}

const PORTAL_PATTERN = /^(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/;
const IQN_PATTERN = /^(iqn\.\d{4}-\d{2}\.[a-z0-9.-]+(:[A-Za-z0-9.:_-]+)?|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32})$/;

/** Reads and checks the controller's publish context and the stage secrets (pure). */
export function readAttachRequest(volumeId: string, ctx: Readonly<Record<string, string>>, secrets: Readonly<Record<string, string>>): AttachRequest {
  const portal = ctx[PublishContextKey.targetPortal];
  const iqn = ctx[PublishContextKey.targetIqn];
  const lunText = ctx[PublishContextKey.lun];
  if (!portal) throw new MissingFieldError(`publish_context.${PublishContextKey.targetPortal}`);
  if (!iqn) throw new MissingFieldError(`publish_context.${PublishContextKey.targetIqn}`);
  if (lunText === undefined || lunText === '') throw new MissingFieldError(`publish_context.${PublishContextKey.lun}`);
  const m = PORTAL_PATTERN.exec(portal);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new InvalidArgumentError(`publish_context.targetPortal ${JSON.stringify(portal.slice(0, 80))} is not host:port`);
  if (!IQN_PATTERN.test(iqn) || iqn.length > 223) throw new InvalidArgumentError(`publish_context.targetIqn ${JSON.stringify(iqn.slice(0, 80))} is not an iSCSI name`);
  if (!/^\d{1,5}$/.test(lunText) || Number(lunText) > 16383) throw new InvalidArgumentError('publish_context.lun must be a LUN number from 0 to 16383');
  const modeText = ctx[PublishContextKey.chap];
  if (modeText !== undefined && modeText !== '' && !(CHAP_MODES as readonly string[]).includes(modeText)) {
    throw new InvalidArgumentError(`publish_context.${PublishContextKey.chap} must be one of ${CHAP_MODES.join(', ')}`);
  }
  const mode = modeText ? (modeText as ChapMode) : undefined;
  const chap: ChapCredentials | undefined = readChapSecrets(secrets, 'node-stage');
  checkStageChap(volumeId, mode, chap);
  const req: AttachRequest = { volumeId, portal, iqn, lun: Number(lunText) };
  if (chap !== undefined) req.chap = chap;
  return req;
}
