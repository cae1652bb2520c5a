// bench/media/flash.js - injected into every viewer page (liandong's and
// janus's) before its own scripts: watches the page's <video> frame by frame
// (requestVideoFrameCallback) and records each solid white, red, green or
// blue frame that liandong-rtsp-source --flash puts into the stream (a flash
// is white then red, or green then blue), with the wall-clock time
// (performance.timeOrigin + the frame's presentationTime, ms) at which the
// page handed it to the compositor and, for WebRTC, when its last packet came
// in (receiveTime). viewers.mjs reads window.benchFlashes and matches each
// one with the time the source printed for that frame.
(() => {
  const seen = [];
  window.benchFlashes = seen;
  const canvas = document.createElement('canvas');
  canvas.width = 16;
  canvas.height = 9;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  let last = '';

  // The colour of a frame, from its mean over a 16x9 thumbnail: 'white',
  // 'red', 'green', 'blue' or '' (the moving ball on black, or anything else).
  function colour(video) {
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let r = 0, g = 0, b = 0;
    for (let i = 0; i < px.length; i += 4) { r += px[i]; g += px[i + 1]; b += px[i + 2]; }
    const n = px.length / 4;
    r /= n; g /= n; b /= n;
    if (r > 200 && g > 200 && b > 200) return 'white';
    if (r > 150 && g < 90 && b < 90) return 'red';
    if (g > 150 && r < 90 && b < 90) return 'green';
    if (b > 150 && r < 90 && g < 90) return 'blue';
    return '';
  }

  function watch(video) {
    const onFrame = (now, meta) => {
      const c = colour(video);
      if (c && c !== last) {
        const origin = performance.timeOrigin;
        seen.push({
          colour: c,
          shown: origin + (meta.presentationTime ?? now),
          received: meta.receiveTime !== undefined ? origin + meta.receiveTime : null,
        });
        if (seen.length > 10000) seen.splice(0, seen.length - 10000);
      }
      last = c;
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  const find = () => {
    const v = document.querySelector('video');
    if (v) watch(v);
    else setTimeout(find, 50);
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', find);
  else find();
})();
