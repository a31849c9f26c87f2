import test from 'node:test';
import assert from 'node:assert/strict';
import { CommitPredictor } from './commit_predictor.ts';

/** Runs `commits` rounds of `writes` writes and one flush; the guesses at each write. */
function run(p: CommitPredictor, commits: number, writes: number): boolean[] {
  const guesses: boolean[] = [];
  for (let c = 0; c < commits; c++) {
    for (let w = 0; w < writes; w++) guesses.push(p.writeCompleted());
    p.flushed();
  }
  return guesses;
}

test('a commit pattern (write, flush) is recognised after a few commits and stays recognised', () => {
  const p = new CommitPredictor();
  const g = run(p, 40, 1);
  const first = g.indexOf(true);
  assert.ok(first >= 8 && first <= 14, `first guess at commit ${first}`);
  assert.ok(g.slice(first).every(Boolean), 'every later commit is anticipated');
});

test('bulk writes without flushes are never anticipated, and they end a commit pattern', () => {
  const bulk = new CommitPredictor();
  assert.ok(run(bulk, 1, 10_000).every((x) => !x));
  const p = new CommitPredictor();
  run(p, 40, 1);
  assert.equal(p.writeCompleted(), true);
  let still = 0;
  for (let i = 0; i < 20; i++) if (p.writeCompleted()) still++;
  assert.ok(still <= 3, `a burst of writes stops the guess within a few writes (${still})`);
});

test('commits of two writes each (half the writes followed by a flush) are not anticipated', () => {
  const p = new CommitPredictor();
  const g = run(p, 200, 2);
  assert.equal(g.filter(Boolean).length, 0, `score ${p.score}`);
});

test('mostly single-write commits with an occasional second write stay anticipated', () => {
  const p = new CommitPredictor();
  run(p, 30, 1);
  let yes = 0;
  let total = 0;
  for (let c = 0; c < 400; c++) {
    const writes = c % 20 === 0 ? 2 : 1;
    for (let w = 0; w < writes; w++) {
      total++;
      if (p.writeCompleted()) yes++;
    }
    p.flushed();
  }
  assert.ok(yes / total > 0.9, `${yes}/${total}`);
});

test('a flush with no write before it changes nothing', () => {
  const p = new CommitPredictor();
  for (let i = 0; i < 100; i++) p.flushed();
  assert.equal(p.score, 0);
  assert.equal(p.writeCompleted(), false);
});
