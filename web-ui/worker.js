// The PVM worker of soru-web: the same wasm as the page, driven by `worker_handle`.
// Requests that arrive while the module loads wait for it (promise reactions run in order).
import init, { worker_handle } from "./soru_web.js";

const ready = init();
self.onmessage = async (event) => {
  await ready;
  worker_handle(event.data);
};
