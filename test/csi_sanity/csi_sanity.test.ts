/**
 * The official CSI conformance suite (kubernetes-csi csi-test v5.3.1, `csi-sanity`,
 * spec v1.10) against the real driver, control plane and engine — twice: with the
 * defaults (mount access), and with every capability the driver advertises exercised
 * (expansion, raw block, real StorageClass parameters, a VolumeAttributesClass's mutable
 * parameters for MODIFY_VOLUME, the node attach limit). Each run
 * must end with 0 failed; both `Ran … / Passed | Failed | Pending | Skipped` lines are
 * printed. Two storage nodes (engines) in two zones; the node plugin runs under a node id
 * with no engine (a compute-only node), so every ControllerPublish goes through the node
 * plugin's registration, and the second run's 2-replica class through a nexus.
 *
 * The binary is ../shared/tools/csi-sanity from the repository (see that README), or
 * $CSI_SANITY; when it is absent the suite skips, loudly.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EngineProcess } from '../helpers/engine_process.ts';
import { repoRoot, runStreaming } from '../helpers/tools.ts';
import { startControlPlane, type ControlPlaneProcess } from '../control_plane/control_plane_process.ts';
import { MiB, nodeOnline, poolOnline, registeredEngine } from '../control_plane/cp_kit.ts';
import { clearLeftovers, leftovers, NOTHING_LEFT } from '../csi_e2e/csi_e2e_kit.ts';
import { startCsiPlugin, type CsiProcess } from '../csi_e2e/csi_process.ts';
import { sanityArgs, sanityResult, type SanityResult } from './sanity_output.ts';

/** CI's place for it, beside the repository; CSI_SANITY overrides (a checkout elsewhere). */
const SANITY = process.env.CSI_SANITY ?? resolve(repoRoot, '..', 'shared', 'tools', 'csi-sanity');
const STORAGE_NODES = [`sanity-storage-a-${process.pid}`, `sanity-storage-b-${process.pid}`];
const COMPUTE_NODE = `sanity-compute-${process.pid}`;
/** Small volumes: every node test formats and mounts one through the user-space path. */
const VOLUME_BYTES = 16 * MiB;
/** The attach-limit spec creates and publishes this many volumes, then one more. */
const MAX_VOLUMES = 3;
/** Real StorageClass parameters, as a platform team writes them (deploy/base/storageclasses.yaml style): a mirrored class. */
const CLASS_PARAMETERS = { replicas: '2', type: 'ssd', thin: 'true', fsType: 'ext4', requiredTags: '', spreadStrict: 'false', 'csi.storage.k8s.io/fstype': 'ext4' };

/** A VolumeAttributesClass's parameters (MODIFY_VOLUME): fewer replicas than the class, so a modify really drops one. */
const ATTRIBUTES_CLASS = { replicas: '1' };

const missing = !existsSync(SANITY);
if (missing) {
  process.stderr.write(`\n*** csi-sanity SKIPPED: ${SANITY} is not there (see ../shared/tools/README.md); the CSI conformance suite did NOT run ***\n\n`);
}

describe('csi-sanity (CSI spec v1.10 conformance) against the real driver, control plane and engine', { skip: missing ? `csi-sanity binary not found at ${SANITY}` : false, timeout: 60 * 60_000 }, () => {
  let dir: string;
  let plane: ControlPlaneProcess | undefined;
  const engines: EngineProcess[] = [];
  let csi: CsiProcess | undefined;
  const results: SanityResult[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `berth-csi-sanity-${process.pid}-`));
    plane = await startControlPlane({ store: `sqlite:${join(dir, 'control.db')}` });
    // No initiatorIqn labels: the engine nodes are storage only, the plugin's node compute only.
    for (const [i, node] of STORAGE_NODES.entries()) {
      engines.push(await registeredEngine([plane.url], node, `zone=z${i + 1},storageGroup=r${i + 1},media=ssd`));
      await nodeOnline(plane.url, node);
      await poolOnline(plane.url, node, 'p1', 8192 * MiB);
    }
    csi = await startCsiPlugin(join(dir, 'csi.sock'), [
      '--mode', 'all', '--node-id', COMPUTE_NODE, '--zone', 'z1', '--state-dir', join(dir, 'state'), '--attacher', 'userspace',
      '--control-plane', plane.url, '--max-volumes', String(MAX_VOLUMES),
    ]);
    await writeFile(join(dir, 'parameters.yaml'), Object.entries(CLASS_PARAMETERS).map(([k, v]) => `${k}: "${v}"\n`).join(''));
    await writeFile(join(dir, 'mutable.yaml'), Object.entries(ATTRIBUTES_CLASS).map(([k, v]) => `${k}: "${v}"\n`).join(''));
  });

  after(async () => {
    for (const r of results) process.stdout.write(`csi-sanity ${r.label}: ${r.ranLine}\ncsi-sanity ${r.label}: ${r.summaryLine}\n`);
    await csi?.stop();
    if (dir) await clearLeftovers(dir);
    for (const e of engines) await e.stop();
    await plane?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const runSanity = async (label: string, extra: string[]): Promise<SanityResult> => {
    const work = join(dir, label);
    await mkdir(work, { recursive: true });
    const args = sanityArgs({ socket: csi!.socketPath, stagingDir: join(work, 'staging'), mountDir: join(work, 'mount'), volumeBytes: VOLUME_BYTES, extra });
    // Progress (each finished spec's verdict) goes to the log as it comes; the rest is kept for failures.
    const out = await runStreaming(SANITY, args, (line) => {
      if (/^\s*(•|\[FAIL\]|Ran \d|SUCCESS!|FAIL!)/.test(line)) process.stdout.write(`  [${label}] ${line}\n`);
    }, { timeoutMs: 50 * 60_000 });
    const r = sanityResult(label, out.stdout + out.stderr, out.code);
    results.push(r);
    process.stdout.write(`csi-sanity ${label}: ${r.ranLine}\ncsi-sanity ${label}: ${r.summaryLine}\n`);
    if (r.failed !== 0 || out.code !== 0) {
      process.stdout.write(`${r.failures.join('\n')}\n${(out.stdout + out.stderr).slice(-20_000)}\n${csi!.diagnostics()}\n`);
    }
    return r;
  };

  it('defaults (mount access): 0 failed', async () => {
    const r = await runSanity('defaults', []);
    assert.equal(r.failed, 0, r.failures.join('\n'));
    assert.ok(r.passed > 0, 'no spec passed');
    assert.equal(r.exitCode, 0);
    assert.deepEqual(await leftovers(dir), NOTHING_LEFT);
  });

  it('every advertised capability (expansion, raw block, StorageClass and VolumeAttributesClass parameters, node attach limit): 0 failed', async () => {
    const r = await runSanity('all-capabilities', [
      '--csi.testvolumeexpandsize', String(2 * VOLUME_BYTES),
      '--csi.testvolumeparameters', join(dir, 'parameters.yaml'),
      '--csi.testvolumeaccesstype', 'block',
      '--csi.testnodevolumeattachlimit',
      '--csi.testvolumemutableparameters', join(dir, 'mutable.yaml'),
    ]);
    assert.equal(r.failed, 0, r.failures.join('\n'));
    // The class is mirrored: publishes went through a nexus, and a modify dropped a replica.
    const said = (msg: string) => plane!.lines().filter((l) => l.includes(`"msg":"${msg}"`)).length;
    assert.ok(said('replicated volume published') > 0, 'no 2-replica volume was published through a nexus');
    assert.ok(said('replica removed') > 0, 'no ControllerModifyVolume lowered a replica count');
    assert.ok(r.passed > 0, 'no spec passed');
    assert.equal(r.exitCode, 0);
    assert.deepEqual(await leftovers(dir), NOTHING_LEFT);
  });
});
