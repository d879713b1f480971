/** The entry of an owner worker thread: one `Owner`, its control messages over the thread's port. */
import { parentPort, workerData } from 'node:worker_threads';
import { Owner } from './owner.js';
import { type OwnerInit, type OwnerRequestMessage, type OwnerResponse, toWireError } from './owner-protocol.js';

if (!parentPort) throw new Error('owner-worker must run in a worker thread');
const port = parentPort;
const owner = new Owner(workerData as OwnerInit, (m) => port.postMessage(m));

port.on('message', (m: OwnerRequestMessage) => {
  let res: OwnerResponse;
  try {
    res = { id: m.id, ok: true, value: owner.handle(m.req) };
  } catch (e) {
    res = { id: m.id, ok: false, error: toWireError(e) };
  }
  port.postMessage(res);
});

port.postMessage({ ready: true });
owner.start().catch((e: unknown) => {
  port.postMessage({ log: 'error', obj: { owner: (workerData as OwnerInit).ownerIndex, err: (e as Error).message }, msg: 'owner ring loop failed' });
  throw e;
});
