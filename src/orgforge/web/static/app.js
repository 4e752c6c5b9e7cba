// orgforge serve: live pages over server-sent events. Plain JS, no build step.
"use strict";
(function () {
  function text(el, value) { if (el) el.textContent = value == null ? "" : String(value); }
  function setState(el, state) { if (el) { el.textContent = state; el.className = "state " + state; } }

  function progressRows(progress) {
    var frag = document.createDocumentFragment();
    Object.keys(progress || {}).forEach(function (label) {
      var pair = progress[label], row = document.createElement("div");
      row.className = "bar-row";
      var name = document.createElement("span"); name.className = "name"; name.textContent = label;
      var bar = document.createElement("progress");
      if (pair[1]) bar.max = pair[1];
      bar.value = pair[0];
      var pct = document.createElement("span"); pct.className = "pct";
      pct.textContent = pair[0] + (pair[1] ? " / " + pair[1] : "");
      row.append(name, bar, pct); frag.append(row);
    });
    return frag;
  }

  // density sliders: the number beside each follows it (mouse, touch or arrow keys)
  [].forEach.call(document.querySelectorAll('.density input[type="range"]'), function (range) {
    var shown = document.getElementById(range.id + "-shown");
    range.addEventListener("input", function () { text(shown, range.value); });
  });
  var reset = document.querySelector("[data-reset-density]");
  if (reset) reset.addEventListener("click", function () {
    [].forEach.call(document.querySelectorAll(".density output"), function (shown) {
      var range = document.getElementById(shown.htmlFor.value);
      range.value = shown.dataset.default; text(shown, range.value);
    });
  });

  var op = document.getElementById("op");
  if (op && ["ok", "failed", "cancelled"].indexOf(op.dataset.state) < 0) {
    var src = new EventSource("/api/ops/" + encodeURIComponent(op.dataset.op) + "/events");
    var show = function (ev) {
      var data = JSON.parse(ev.data);
      setState(op.querySelector('[data-field="state"]'), data.state);
      var box = op.querySelector('[data-field="progress"]');
      box.replaceChildren(progressRows(data.progress));
      if (ev.type === "end") { src.close(); window.location.reload(); }
    };
    src.addEventListener("progress", show);
    src.addEventListener("end", show);
  }

  var job = document.getElementById("job");
  if (job) {
    var log = document.getElementById("log");
    var events = new EventSource("/api/jobs/" + encodeURIComponent(job.dataset.job) + "/events");
    events.addEventListener("job", function (ev) {
      var data = JSON.parse(ev.data);
      setState(job.querySelector('[data-field="state"]'), data.state);
      ["message", "done", "failed", "next_at", "runner"].forEach(function (name) {
        text(job.querySelector('[data-field="' + name + '"]'), data[name]);
      });
    });
    events.addEventListener("action", function (ev) {
      var a = JSON.parse(ev.data);
      if (log.querySelector('tr[data-seq="' + a.seq + '"]')) return;
      var tr = document.createElement("tr");
      tr.dataset.seq = a.seq;
      [a.seq, (a.planned_at || "").slice(0, 19).replace("T", " "), a.persona || "", a.behaviour,
       a.status, a.summary || a.error || ""].forEach(function (value, i) {
        var td = document.createElement("td"); td.textContent = value;
        if (i === 4) td.className = "state " + value;
        tr.append(td);
      });
      // in sequence order: the stream starts with recent history the page may already show
      var later = [].find.call(log.rows, function (row) { return +row.dataset.seq > a.seq; });
      if (later && later === log.rows[0] && log.rows.length >= 50) return;  // older than shown
      log.insertBefore(tr, later || null);
      while (log.rows.length > 200) log.deleteRow(0);
    });
  }
})();
