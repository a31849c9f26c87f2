import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as E from './csi_errors.ts';
import { mapError } from './status_map.ts';

describe('status map', () => {
  it('maps each driver error to the spec code', () => {
    const cases: [Error, status][] = [
      [new E.MissingFieldError('name'), status.INVALID_ARGUMENT],
      [new E.InvalidArgumentError('x'), status.INVALID_ARGUMENT],
      [new E.VolumeNotFoundError('v'), status.NOT_FOUND],
      [new E.SnapshotNotFoundError('s'), status.NOT_FOUND],
      [new E.NodeNotFoundError('n'), status.NOT_FOUND],
      [new E.SourceNotFoundError('snapshot', 's'), status.NOT_FOUND],
      [new E.VolumePathNotFoundError('v', '/p'), status.NOT_FOUND],
      [new E.NameConflictError('volume', 'n', 'size'), status.ALREADY_EXISTS],
      [new E.PublishConflictError('x'), status.ALREADY_EXISTS],
      [new E.PublishedElsewhereError('v', ['a']), status.FAILED_PRECONDITION],
      [new E.InUseError('x'), status.FAILED_PRECONDITION],
      [new E.PreconditionError('x'), status.FAILED_PRECONDITION],
      [new E.CapacityExhaustedError('x'), status.RESOURCE_EXHAUSTED],
      [new E.NodeVolumeLimitError('n', 1), status.RESOURCE_EXHAUSTED],
      [new E.CapacityOutOfRangeError('x'), status.OUT_OF_RANGE],
      [new E.InvalidPageTokenError('t'), status.ABORTED],
      [new E.OperationPendingError('k'), status.ABORTED],
      [new E.UnsupportedError('x'), status.UNIMPLEMENTED],
      [new E.NodeCommandError('mount', 32, 'x'), status.INTERNAL],
      [new E.AttachError('x'), status.UNAVAILABLE],
      [new E.ControlPlaneUnavailableError('x'), status.UNAVAILABLE],
    ];
    for (const [err, code] of cases) assert.equal(mapError(err).code, code, err.constructor.name);
  });

  it('hides the text of unexpected errors', () => {
    const m = mapError(new Error('open /secret/path failed: password=hunter2'));
    assert.equal(m.code, status.INTERNAL);
    assert.doesNotMatch(m.details, /hunter2|secret/);
  });
});
