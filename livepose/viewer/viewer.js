// livepose live viewer: connects to the WebSocket output of the server that served this page
// (ws://<same host>/ws, with the page's own ?token=), draws every person's skeleton in a colour of
// its own with its id, and the frames themselves behind when the server sends them.
// Messages: docs/streaming.md ("WebSocket and the viewer").  No external resources.
"use strict";

(function () {
  const params = new URLSearchParams(window.location.search);
  const token = params.get("token");
  const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
  const wsUrl = scheme + window.location.host + "/ws" + (token ? "?token=" + encodeURIComponent(token) : "");
  const JPEG_MAGIC = [0x4c, 0x50, 0x4a, 0x31]; // "LPJ1"
  const BACKOFF_FIRST_MS = 250;
  const BACKOFF_MAX_MS = 8000;
  const PING_EVERY_MS = 2000;

  const canvas = document.getElementById("view");
  const ctx = canvas.getContext("2d");
  const ui = {
    state: document.getElementById("state"),
    fps: document.getElementById("fps"),
    latency: document.getElementById("latency"),
    people: document.getElementById("people"),
    frames: document.getElementById("frames"),
    dropped: document.getElementById("dropped"),
    source: document.getElementById("source"),
    videoToggle: document.getElementById("video-toggle"),
    video: document.getElementById("video"),
  };

  // Person colour: hues a golden angle apart, so consecutive ids differ clearly.
  function colorOf(id) {
    const h = ((Number(id) * 137.508) % 360 + 360) % 360 / 360;
    const s = 0.9, l = 0.55;
    const q = l < 0.5 ? l * (1 + s) : l + s - l * s;
    const p = 2 * l - q;
    const channel = (t) => {
      t = (t % 1 + 1) % 1;
      if (t < 1 / 6) return p + (q - p) * 6 * t;
      if (t < 1 / 2) return q;
      if (t < 2 / 3) return p + (q - p) * (2 / 3 - t) * 6;
      return p;
    };
    return [channel(h + 1 / 3), channel(h), channel(h - 1 / 3)].map((v) => Math.round(v * 255));
  }

  // The page's own counters, for people and for tests.
  const stats = {
    state: "connecting",
    connects: 0,
    framesReceived: 0,
    framesDrawn: 0,
    imagesReceived: 0,
    imagesDrawn: 0,
    lastFrame: null,   // index of the frame on screen
    backgroundFrame: null, // index of the picture behind it (null: none)
    people: 0,         // people in the frame on screen
    fps: 0,
    latencyMs: null,   // capture to this page, when the clocks agree
    pipelineMs: null,  // capture to sending, measured by the server
    rttMs: null,
    dropped: 0,        // frames the server dropped for this page (from status messages)
    hello: null,
    colorOf: colorOf,
  };
  window.livepose = stats;

  let ws = null;
  let hello = null;
  let backoff = BACKOFF_FIRST_MS;
  let pingTimer = null;
  let seq = 0;            // arrival order of frame messages
  let queuedSeq = 0;      // the newest frame handed to the drawing
  let pending = null;     // frame waiting for the next animation frame
  let background = null;  // {index, bitmap}: the newest decoded picture
  const decoding = new Map(); // frame index -> Promise<ImageBitmap|null>
  const arrivals = [];
  let hudAt = 0;

  function setState(name, text) {
    stats.state = name;
    ui.state.className = "state " + name;
    ui.state.textContent = text;
  }

  function send(obj) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
  }

  function wantVideo() {
    return Boolean(hello && hello.frames && ui.video.checked);
  }

  function connect() {
    setState("connecting", "connecting");
    const socket = new WebSocket(wsUrl);
    socket.binaryType = "arraybuffer";
    ws = socket;
    socket.onopen = () => {
      stats.connects += 1;
      backoff = BACKOFF_FIRST_MS;
      setState("connected", "connected");
      pingTimer = window.setInterval(() => send({ type: "ping", t: performance.now() }), PING_EVERY_MS);
    };
    socket.onmessage = (event) => {
      if (socket !== ws) return;
      if (typeof event.data === "string") onText(event.data);
      else onBinary(event.data);
    };
    socket.onclose = (event) => {
      if (socket !== ws) return;
      window.clearInterval(pingTimer);
      ws = null;
      decoding.clear();
      const wait = backoff;
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      const why = event.code === 1001 ? "server stopped" : stats.connects === 0 ? "cannot connect (token?)" : "disconnected";
      setState("closed", why + ", retrying in " + (wait / 1000).toFixed(1) + " s");
      window.setTimeout(connect, wait);
    };
  }

  function onText(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (err) {
      return;
    }
    if (msg.type === "frame") onFrame(msg);
    else if (msg.type === "hello") onHello(msg);
    else if (msg.type === "status") {
      stats.dropped = msg.dropped;
      ui.dropped.textContent = String(msg.dropped);
    } else if (msg.type === "pong" && typeof msg.t === "number") {
      stats.rttMs = performance.now() - msg.t;
    }
  }

  function onHello(msg) {
    hello = msg;
    stats.hello = msg;
    if (canvas.width !== msg.width || canvas.height !== msg.height) {
      canvas.width = msg.width;
      canvas.height = msg.height;
    }
    ui.source.textContent = msg.source + " \u00b7 " + msg.width + "\u00d7" + msg.height + " \u00b7 " + msg.model;
    ui.source.title = ui.source.textContent;
    ui.videoToggle.hidden = !msg.frames;
    background = null;
    if (wantVideo()) send({ type: "frames", on: true });
  }

  function onBinary(buffer) {
    if (buffer.byteLength < 8) return;
    const head = new Uint8Array(buffer, 0, 4);
    for (let i = 0; i < 4; i++) if (head[i] !== JPEG_MAGIC[i]) return;
    const index = new DataView(buffer).getUint32(4, true);
    stats.imagesReceived += 1;
    const blob = new Blob([new Uint8Array(buffer, 8)], { type: "image/jpeg" });
    decoding.set(index, createImageBitmap(blob).catch(() => null));
    while (decoding.size > 4) decoding.delete(decoding.keys().next().value);
  }

  function onFrame(msg) {
    stats.framesReceived += 1;
    const now = performance.now();
    arrivals.push(now);
    while (arrivals.length > 2 && now - arrivals[0] > 2000) arrivals.shift();
    const mine = ++seq;
    const picture = decoding.get(msg.frame);
    if (picture === undefined) {
      queue(msg, mine);
      return;
    }
    decoding.delete(msg.frame);
    picture.then((bitmap) => {
      if (bitmap && mine > queuedSeq) {
        if (background) background.bitmap.close();
        background = { index: msg.frame, bitmap: bitmap };
      } else if (bitmap) {
        bitmap.close(); // a newer frame is already on its way
      }
      queue(msg, mine);
    });
  }

  function queue(msg, mine) {
    if (mine <= queuedSeq) return;
    queuedSeq = mine;
    pending = msg;
  }

  function drawPerson(person, n, lw) {
    const kps = person.keypoints;
    const key = person.id === null || person.id === undefined ? n : person.id;
    const [r, g, b] = colorOf(key);
    const color = "rgb(" + r + "," + g + "," + b + ")";
    ctx.globalAlpha = 1;
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineWidth = lw;
    ctx.lineCap = "round";
    ctx.setLineDash(person.state === "tentative" ? [lw * 2, lw * 2] : []);
    for (const [a, z] of hello.limbs) {
      const p = kps[a], q = kps[z];
      if (!p || !q || p[0] === null || q[0] === null) continue;
      ctx.beginPath();
      ctx.moveTo(p[0], p[1]);
      ctx.lineTo(q[0], q[1]);
      ctx.stroke();
    }
    ctx.setLineDash([]);
    let top = null;
    const carried = Array.isArray(person.carried) ? person.carried : null; // 1: carried by optical flow
    ctx.lineWidth = Math.max(1.5, lw * 0.6);
    kps.forEach((p, i) => {
      if (!p || p[0] === null) return;
      ctx.beginPath();
      if (carried !== null && carried[i] === 1) { // a ring: not measured by the network on this frame
        ctx.arc(p[0], p[1], lw * 1.6, 0, 2 * Math.PI);
        ctx.stroke();
      } else {
        ctx.arc(p[0], p[1], lw * 1.3, 0, 2 * Math.PI);
        ctx.fill();
      }
      if (top === null || p[1] < top[1]) top = p;
    });
    if (top !== null && person.id !== null && person.id !== undefined) {
      const size = Math.max(14, Math.round(canvas.width / 40));
      ctx.font = "bold " + size + "px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.textBaseline = "bottom";
      const label = "#" + person.id;
      const y = Math.max(size, top[1] - lw * 3);
      ctx.lineWidth = Math.max(3, size / 5);
      ctx.strokeStyle = "rgba(0,0,0,0.85)";
      ctx.strokeText(label, top[0], y);
      ctx.fillText(label, top[0], y);
    }
    ctx.globalAlpha = 1;
  }

  function draw(msg) {
    if (canvas.width !== msg.width || canvas.height !== msg.height) {
      canvas.width = msg.width;
      canvas.height = msg.height;
    }
    const video = wantVideo() && background !== null;
    if (video) {
      ctx.drawImage(background.bitmap, 0, 0, canvas.width, canvas.height);
      if (background.index === msg.frame) stats.imagesDrawn += 1;
      stats.backgroundFrame = background.index;
    } else {
      ctx.fillStyle = "#0d0e10";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      stats.backgroundFrame = null;
    }
    const lw = Math.max(2, Math.round(canvas.width / 256));
    if (hello) msg.people.forEach((person, n) => drawPerson(person, n, lw));
    stats.framesDrawn += 1;
    stats.lastFrame = msg.frame;
    stats.people = msg.people.length;
    stats.pipelineMs = msg.latency_ms;
    const e2e = typeof msg.captured === "number" ? Date.now() - msg.captured * 1000 : NaN;
    stats.latencyMs = e2e >= 0 && e2e < 60000 ? e2e : null;
  }

  function updateHud(now) {
    if (now - hudAt < 250) return;
    hudAt = now;
    const n = arrivals.length;
    stats.fps = n > 1 && now - arrivals[n - 1] < 2000 ? ((n - 1) * 1000) / (arrivals[n - 1] - arrivals[0]) : 0;
    ui.fps.textContent = stats.fps > 0 ? stats.fps.toFixed(1) : "-";
    if (stats.latencyMs !== null) {
      ui.latency.textContent = stats.latencyMs.toFixed(0) + " ms (" + Math.round(stats.pipelineMs) + ")";
    } else if (stats.pipelineMs !== null) {
      ui.latency.textContent = Math.round(stats.pipelineMs) + " ms";
    }
    if (stats.rttMs !== null) ui.latency.title = "round trip to the server " + stats.rttMs.toFixed(1) + " ms";
  }

  function tick(now) {
    if (pending !== null) {
      const msg = pending;
      pending = null;
      draw(msg);
      ui.people.textContent = String(stats.people);
      ui.frames.textContent = String(stats.framesDrawn);
      ui.frames.title = stats.framesReceived + " received, " + stats.framesDrawn + " drawn";
    }
    updateHud(now);
    window.requestAnimationFrame(tick);
  }

  ui.video.addEventListener("change", () => {
    if (hello && hello.frames) send({ type: "frames", on: ui.video.checked });
    if (!ui.video.checked && background) {
      background.bitmap.close();
      background = null;
    }
  });

  connect();
  window.requestAnimationFrame(tick);
})();
