import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SendBudget } from '../src/xds/index.js';

const settled = async (p: Promise<void>): Promise<boolean> => {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

test('SendBudget admits responses up to the cap and queues the rest in arrival order', async () => {
  const budget = new SendBudget(100);
  assert.equal(await settled(budget.acquire(60)), true);
  const second = budget.acquire(50);
  const third = budget.acquire(10);
  assert.equal(await settled(second), false, '60 + 50 is over the cap');
  assert.equal(await settled(third), false, 'a small later response does not overtake an earlier one');
  assert.equal(budget.waiting, 2);
  budget.release(60);
  assert.equal(await settled(second), true);
  assert.equal(await settled(third), true);
  assert.equal(budget.bytesInFlight, 60);
});

test('SendBudget lets a response larger than the cap go out alone, and drain frees every waiter', async () => {
  const budget = new SendBudget(100);
  assert.equal(await settled(budget.acquire(500)), true, 'alone, an oversized response still goes');
  const next = budget.acquire(1);
  assert.equal(await settled(next), false);
  budget.drain();
  assert.equal(await settled(next), true);
  assert.equal(budget.waiting, 0);
});
