// Decodes in a Web Worker so that the page stays responsive: post {id, bytes}; receive
// {id, width, height, gray, rgba, ms} or {id, error}.
import { LicDecoder } from "./lic.js";

const ready = LicDecoder.load(new URL("lic_wasm.wasm", import.meta.url));

self.onmessage = async (e) => {
  const { id, bytes } = e.data;
  try {
    const dec = await ready;
    const t0 = performance.now();
    const r = dec.decode(bytes);
    const ms = performance.now() - t0;
    self.postMessage({ id, ...r, ms }, [r.rgba.buffer]);
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message ? err.message : err) });
  }
};
