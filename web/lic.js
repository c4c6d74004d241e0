// The JavaScript API of lic's WebAssembly decoder (crates/lic-wasm, built by
// scripts/build-wasm.sh into web/lic_wasm.wasm). Works in a page and in a Web Worker.
//
//   const dec = await LicDecoder.load("lic_wasm.wasm");
//   const { width, height, gray, rgba } = dec.decode(bytes);   // throws Error on bad input

export class LicDecoder {
  constructor(instance) {
    this.x = instance.exports;
  }

  static async load(url) {
    const resp = await fetch(url);
    if (!resp.ok) throw new Error(`${url}: HTTP ${resp.status}`);
    const { instance } = await WebAssembly.instantiate(await resp.arrayBuffer(), {});
    return new LicDecoder(instance);
  }

  // Decodes .lic bytes (Uint8Array or ArrayBuffer) into RGBA pixels. `maxPixels` (0: the
  // decoder's own cap) refuses larger images before any work.
  decode(bytes, maxPixels = 0) {
    const input = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    const x = this.x;
    const ptr = x.lic_alloc(input.length);
    try {
      new Uint8Array(x.memory.buffer, ptr, input.length).set(input);
      const status = x.lic_decode(ptr, input.length, maxPixels);
      if (status !== 0) {
        const msg = new TextDecoder().decode(
          new Uint8Array(x.memory.buffer, x.lic_error_ptr(), x.lic_error_len()),
        );
        throw new Error(msg);
      }
      const width = x.lic_width();
      const height = x.lic_height();
      // Copied out: the module's memory may grow (and move) on the next call.
      const rgba = new Uint8ClampedArray(
        new Uint8Array(x.memory.buffer, x.lic_rgba_ptr(), width * height * 4),
      );
      return { width, height, gray: x.lic_gray() === 1, rgba };
    } finally {
      x.lic_free(ptr, input.length);
      x.lic_release();
    }
  }
}
