// Classify's drawing canvas (ui/classify/canvas_component.py registers it).
//
// White round strokes on black, drawn with a mouse, a pen or a finger (pointer events).
// At each stroke's end the whole drawing goes to the app at once, as the state value
// "drawing": {raw: {objects: [one fabric.js-like Path per stroke]}, data: a PNG data
// URL of the canvas at its CSS size}. No debounce: streamlit-drawable-canvas, used
// before, waited 200 ms after each stroke before sending, two thirds of a stroke's
// time to its answer on screen (docs/speed.md).
//
// data: {width, height, stroke, initial: [strokes] | null}. A canvas mounted with
// initial strokes (Undo) draws them and sends nothing until it is drawn on.

const pads = new WeakMap();

function makePad(root) {
  const canvas = document.createElement("canvas");
  canvas.className = "drawing-canvas";
  root.appendChild(canvas);
  const ctx = canvas.getContext("2d");
  const pad = {canvas, ctx, strokes: [], current: null, pointer: null, width: 0, height: 0,
               dpr: 1, stroke: 10, initialKey: null, send: () => {}};

  const point = (e) => {
    const box = canvas.getBoundingClientRect();
    return [(e.clientX - box.left) * pad.width / box.width,
            (e.clientY - box.top) * pad.height / box.height];
  };
  const down = (e) => {
    if ((e.button !== undefined && e.button > 0) || pad.current) return;  // one pen at a time
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    pad.pointer = e.pointerId;
    pad.current = [point(e)];
    drawDot(pad, pad.current[0]);
  };
  const move = (e) => {
    if (!pad.current || e.pointerId !== pad.pointer) return;
    e.preventDefault();
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) {
      const p = point(ev);
      const last = pad.current[pad.current.length - 1];
      if (p[0] === last[0] && p[1] === last[1]) continue;
      drawSegment(pad, last, p);
      pad.current.push(p);
    }
  };
  const up = (e) => {
    if (!pad.current || e.pointerId !== pad.pointer) return;
    e.preventDefault();
    pad.strokes.push(pad.current);
    pad.current = null;
    pad.send();
  };
  canvas.addEventListener("pointerdown", down);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", up);
  canvas.addEventListener("pointercancel", up);
  return pad;
}

function setSize(pad, width, height) {
  const dpr = window.devicePixelRatio || 1;
  if (pad.width === width && pad.height === height && pad.dpr === dpr) return;
  Object.assign(pad, {width, height, dpr});
  pad.canvas.width = Math.round(width * dpr);
  pad.canvas.height = Math.round(height * dpr);
  pad.canvas.style.width = `${width}px`;
  pad.canvas.style.height = `${height}px`;
  redraw(pad);
}

function pen(pad) {
  const {ctx} = pad;
  ctx.setTransform(pad.dpr, 0, 0, pad.dpr, 0, 0);
  ctx.strokeStyle = ctx.fillStyle = "#ffffff";
  ctx.lineWidth = pad.stroke;
  ctx.lineCap = ctx.lineJoin = "round";
  return ctx;
}

function drawDot(pad, [x, y]) {
  const ctx = pen(pad);
  ctx.beginPath();
  ctx.arc(x, y, pad.stroke / 2, 0, 2 * Math.PI);
  ctx.fill();
}

function drawSegment(pad, [x0, y0], [x1, y1]) {
  const ctx = pen(pad);
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  ctx.lineTo(x1, y1);
  ctx.stroke();
}

function redraw(pad) {
  const {ctx, canvas} = pad;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#000000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (const points of pad.strokes) {
    drawDot(pad, points[0]);
    const ctx2 = pen(pad);
    ctx2.beginPath();
    ctx2.moveTo(...points[0]);
    for (const p of points.slice(1)) ctx2.lineTo(...p);
    if (points.length > 1) ctx2.stroke();
  }
}

function png(pad) {
  if (pad.dpr === 1) return pad.canvas.toDataURL("image/png");
  const out = document.createElement("canvas");  // the CSS size, as the app expects
  out.width = pad.width;
  out.height = pad.height;
  out.getContext("2d").drawImage(pad.canvas, 0, 0, pad.width, pad.height);
  return out.toDataURL("image/png");
}

function asObjects(pad) {
  const r = (v) => Math.round(v * 100) / 100;
  return pad.strokes.map((points) => ({
    type: "path", stroke: "#FFFFFF", strokeWidth: pad.stroke,
    path: points.map(([x, y], i) => [i ? "L" : "M", r(x), r(y)]),
  }));
}

function fromObjects(objects) {
  return (objects || []).map((o) => (o.path || [])
    .filter((c) => c[0] === "M" || c[0] === "L" || c[0] === "Q")
    .map((c) => c[0] === "Q" ? [c[3], c[4]] : [c[1], c[2]]))
    .filter((points) => points.length);
}

export default function (component) {
  const {data, parentElement, setStateValue} = component;
  const root = parentElement.querySelector(".canvas-root") || parentElement;
  let pad = pads.get(parentElement);
  if (!pad) {
    pad = makePad(root);
    pads.set(parentElement, pad);
  }
  pad.stroke = data.stroke;
  pad.send = () => setStateValue("drawing", {raw: {objects: asObjects(pad)}, data: png(pad)});
  const initialKey = JSON.stringify(data.initial || null);
  if (initialKey !== pad.initialKey) {
    pad.initialKey = initialKey;
    pad.strokes = fromObjects(data.initial);
    pad.width = 0;  // redraw at the size below
  }
  setSize(pad, data.width, data.height);
  return () => {
    pads.delete(parentElement);
    pad.canvas.remove();
  };
}
