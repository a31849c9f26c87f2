import { SERVICE_ACTION_OPCODES, type CommandSpec } from './command.ts';
import { prInCommands } from './pr_in.ts';
import { prOutCommands } from './pr_out.ts';
import { reserveCommands } from './pr_access.ts';
import { atomicCommands } from './sbc_atomic.ts';
import { miscBlockCommands } from './sbc_misc.ts';
import { provisioningCommands } from './sbc_provisioning.ts';
import { readWriteCommands } from './sbc_rw.ts';
import { sanitizeCommands } from './sbc_sanitize.ts';
import { basicCommands } from './spc_basic.ts';
import { inquiryCommands } from './spc_inquiry.ts';
import { modeCommands } from './spc_mode.ts';
import { copyCommands } from './xcopy.ts';

/** Every command this target implements, in opcode order (REPORT SUPPORTED OPERATION CODES lists them so). */
export const ALL_COMMANDS: readonly CommandSpec[] = [
  ...basicCommands, ...inquiryCommands, ...modeCommands, ...reserveCommands, ...prInCommands, ...prOutCommands,
  ...readWriteCommands, ...atomicCommands, ...provisioningCommands, ...miscBlockCommands, ...sanitizeCommands, ...copyCommands,
].sort((a, b) => a.opcode - b.opcode || (a.sa ?? 0) - (b.sa ?? 0));

/** Lookup result: the command, or why there is none. */
export type Lookup = CommandSpec | 'bad-opcode' | 'bad-service-action';

/** Dispatch by opcode in one array index; multiplexed opcodes add a service-action map. */
export class CommandTable {
  readonly #plain: (CommandSpec | undefined)[] = new Array(256);
  readonly #byAction = new Map<number, Map<number, CommandSpec>>();
  readonly all: readonly CommandSpec[];

  constructor(specs: readonly CommandSpec[] = ALL_COMMANDS) {
    this.all = specs;
    for (const spec of specs) {
      if (spec.sa !== undefined && SERVICE_ACTION_OPCODES.has(spec.opcode)) {
        let m = this.#byAction.get(spec.opcode);
        if (!m) { m = new Map(); this.#byAction.set(spec.opcode, m); }
        m.set(spec.sa, spec);
      } else {
        this.#plain[spec.opcode] = spec;
      }
    }
  }

  lookup(cdb: Buffer): Lookup {
    const plain = this.#plain[cdb[0]];
    if (plain) return plain;
    const m = this.#byAction.get(cdb[0]);
    if (!m) return 'bad-opcode';
    return m.get(cdb[1] & 0x1f) ?? 'bad-service-action';
  }
}
