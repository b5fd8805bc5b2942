// The Chromium test's probe, appended to a copy of the report (the report
// itself runs no script). It records what the browser actually drew: each
// timeline's box, each mark group's box and its label's, and the write
// lane's, in page pixels, as JSON in a pre element with the id "probe",
// which --dump-dom then prints.
(function () {
  function box(e) {
    var r = e.getBoundingClientRect();
    return { x: r.left + window.scrollX, y: r.top + window.scrollY, w: r.width, h: r.height };
  }
  var out = {
    width: document.documentElement.scrollWidth,
    height: document.documentElement.scrollHeight,
    timelines: []
  };
  document.querySelectorAll("svg.timeline").forEach(function (svg) {
    var t = { setup: svg.dataset.setup, scenario: svg.dataset.scenario, box: box(svg), marks: [], lane: null };
    svg.querySelectorAll("g.mark").forEach(function (g) {
      var b = g.getBBox(), label = g.querySelector("text");
      t.marks.push({
        kind: g.dataset.kind,
        box: box(g),
        bbox: { x: b.x, y: b.y, w: b.width, h: b.height },
        label: label ? box(label) : null
      });
    });
    var lane = svg.querySelector("g.writes");
    if (lane) {
      t.lane = {
        box: box(lane),
        ok: lane.querySelectorAll("rect.write.ok").length,
        failed: lane.querySelectorAll("rect.write.failed").length
      };
    }
    out.timelines.push(t);
  });
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
