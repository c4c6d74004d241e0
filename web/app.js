// The comparison page: decode in a Web Worker, show at 1:1 with zoom, compare with the
// original (slider, PSNR, bpp), and a gallery of Kodak images at equal sizes.
const worker = new Worker(new URL("worker.js", import.meta.url), { type: "module" });
let nextId = 0;
const pending = new Map();
worker.onmessage = (e) => {
  const p = pending.get(e.data.id);
  pending.delete(e.data.id);
  if (e.data.error !== undefined) p.reject(new Error(e.data.error));
  else p.resolve(e.data);
};

// Decodes .lic bytes in the worker: {width, height, gray, rgba, ms}.
export function decodeInWorker(bytes) {
  const id = nextId++;
  // A copy is transferred to the worker; the caller's buffer stays usable.
  const copy = new Uint8Array(bytes).slice();
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, bytes: copy }, [copy.buffer]);
  });
}

const $ = (id) => document.getElementById(id);
let current = null; // {width, height, rgba, bytes}

function show(canvas, width, height, rgba) {
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").putImageData(new ImageData(rgba, width, height), 0, 0);
}

function setZoom() {
  const z = Number($("zoom").value);
  $("stack").style.transform = `scale(${z})`;
  $("stack").style.width = `${(current ? current.width : 0)}px`;
}

function setSplit() {
  const v = Number($("split").value);
  $("original").style.clipPath = `inset(0 ${100 - v}% 0 0)`;
}

export async function openLic(bytes, name) {
  $("error").textContent = "";
  $("status").textContent = `decoding ${name} …`;
  try {
    const r = await decodeInWorker(bytes);
    current = { ...r, bytes: bytes.byteLength };
    show($("decoded"), r.width, r.height, r.rgba);
    const bpp = (bytes.byteLength * 8) / (r.width * r.height);
    $("status").textContent =
      `${name}: ${r.width}×${r.height}${r.gray ? " gray" : ""}, ${bytes.byteLength} bytes, ` +
      `${bpp.toFixed(4)} bpp, decoded in ${r.ms.toFixed(1)} ms`;
    $("status").dataset.ms = r.ms.toFixed(2);
    setZoom();
    return r;
  } catch (err) {
    current = null;
    $("status").textContent = "";
    $("error").textContent = `${name}: ${err.message}`;
    throw err;
  }
}

function psnr(a, b) {
  let se = 0;
  let n = 0;
  for (let i = 0; i < a.length; i += 4) {
    for (let c = 0; c < 3; c++) {
      const d = a[i + c] - b[i + c];
      se += d * d;
    }
    n += 3;
  }
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255 * n) / se);
}

async function openOriginal(file) {
  const bmp = await createImageBitmap(file);
  const c = $("original");
  c.width = bmp.width;
  c.height = bmp.height;
  const ctx = c.getContext("2d");
  ctx.drawImage(bmp, 0, 0);
  c.hidden = false;
  $("split-label").hidden = false;
  setSplit();
  if (current && current.width === bmp.width && current.height === bmp.height) {
    const orig = ctx.getImageData(0, 0, bmp.width, bmp.height).data;
    const dec = $("decoded").getContext("2d").getImageData(0, 0, bmp.width, bmp.height).data;
    const bpp = (current.bytes * 8) / (bmp.width * bmp.height);
    $("status").textContent += ` · PSNR ${psnr(orig, dec).toFixed(2)} dB at ${bpp.toFixed(4)} bpp (left: original)`;
  } else if (current) {
    $("error").textContent = `${file.name} is ${bmp.width}×${bmp.height}, the .lic is ${current.width}×${current.height}`;
  }
}

async function openFiles(files) {
  for (const f of files) {
    if (f.name.toLowerCase().endsWith(".lic")) {
      await openLic(await f.arrayBuffer(), f.name).catch(() => {});
    }
  }
  for (const f of files) {
    if (!f.name.toLowerCase().endsWith(".lic")) await openOriginal(f);
  }
}

$("lic-file").onchange = (e) => openFiles([...e.target.files]);
$("orig-file").onchange = (e) => openFiles([...e.target.files]);
$("zoom").onchange = setZoom;
$("split").oninput = setSplit;
const drop = $("drop");
drop.ondragover = (e) => { e.preventDefault(); drop.classList.add("over"); };
drop.ondragleave = () => drop.classList.remove("over");
drop.ondrop = (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  openFiles([...e.dataTransfer.files]);
};

async function gallery() {
  let index;
  try {
    const r = await fetch("gallery/index.json");
    if (!r.ok) throw new Error();
    index = await r.json();
  } catch {
    $("gallery-note").textContent = "No gallery here: scripts/make-gallery.sh makes one from Kodak.";
    return;
  }
  $("gallery-note").textContent = index.note || "";
  for (const e of index.entries) {
    const tile = document.createElement("div");
    tile.className = "tile";
    const label = document.createElement("div");
    label.textContent = `${e.image} · ${e.codec} · ${e.bytes} B · ${e.bpp.toFixed(3)} bpp · ${e.psnr.toFixed(2)} dB`;
    if (e.file.endsWith(".lic")) {
      const c = document.createElement("canvas");
      tile.append(c, label);
      const bytes = await (await fetch(`gallery/${e.file}`)).arrayBuffer();
      decodeInWorker(bytes).then((r) => {
        show(c, r.width, r.height, r.rgba);
        label.textContent += ` · ${r.ms.toFixed(0)} ms`;
      }, (err) => { label.textContent += ` · ${err.message}`; });
    } else {
      const img = document.createElement("img");
      img.src = `gallery/${e.file}`;
      img.alt = `${e.image} ${e.codec}`;
      tile.append(img, label);
    }
    $("gallery").append(tile);
  }
}

// Test hooks: ?open=URL shows a file; window.lic.hash(url) decodes one in the worker and
// returns the SHA-256 of its pixels (RGB, and one channel for gray) for the browser test.
async function sha256(bytes) {
  const d = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
window.lic = {
  async hash(url) {
    const bytes = await (await fetch(url)).arrayBuffer();
    const r = await decodeInWorker(bytes);
    const n = r.width * r.height;
    const rgb = new Uint8Array(n * 3);
    const one = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      rgb[3 * i] = r.rgba[4 * i];
      rgb[3 * i + 1] = r.rgba[4 * i + 1];
      rgb[3 * i + 2] = r.rgba[4 * i + 2];
      one[i] = r.rgba[4 * i];
    }
    return { width: r.width, height: r.height, gray: r.gray, ms: r.ms, rgb: await sha256(rgb), gray1: await sha256(one) };
  },
  openUrl: async (url) => openLic(await (await fetch(url)).arrayBuffer(), url.split("/").pop()),
};
const params = new URLSearchParams(location.search);
if (params.get("open")) window.lic.openUrl(params.get("open")).catch(() => {});
gallery();
