// The timeline chart (/). The page embeds its first answer (#timeline-data); zooming asks /api/v1/timeline for
// the new range with the same filters and lanes, keeps the view (uirevision) and puts the range in the URL.
// Every name and title is text: Plotly renders markup in labels and hovers, so all of it is escaped first.
(function () {
  "use strict";
  var SEVERITIES = ["info", "low", "medium", "high", "critical"];
  var COLOURS = { info: "#6b7280", low: "#2563eb", medium: "#b45309", high: "#dc2626", critical: "#7f1d1d" };
  var SYMBOLS = { info: "circle", low: "diamond", medium: "triangle-up", high: "square", critical: "x" };
  var BUCKET_MS = { hour: 3600e3, day: 86400e3, week: 7 * 86400e3 };
  var ZONE_KEY = "changetracker.zone";

  var holder = document.getElementById("timeline");
  var source = document.getElementById("timeline-data");
  var zoneSelect = document.getElementById("zone");
  setUpOutageDialog();
  if (!holder || !source || typeof Plotly === "undefined") { return; }
  var page = JSON.parse(source.textContent);
  var initial = page.result;
  var current = initial;
  var zone = readZone();
  var pending = null, ignoreRelayout = false, requestNumber = 0;

  function esc(text) {
    // Plotly decodes &lt; &gt; &amp; and numeric entities in its labels (not &quot;).
    return String(text == null ? "" : text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&#34;").replace(/'/g, "&#39;");
  }

  // --- time zones: Plotly draws wall-clock strings; we choose whose wall clock ---------------------------
  function readZone() {
    var saved = null;
    try { saved = window.localStorage.getItem(ZONE_KEY); } catch (e) { saved = null; }
    return saved === "local" ? "local" : "utc";
  }
  function pad(n, width) { n = String(n); while (n.length < (width || 2)) { n = "0" + n; } return n; }
  function wall(iso) {  // an ISO time as the chart's wall clock string
    var d = new Date(iso);
    if (zone === "utc") {
      return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
        pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds()) + "." + pad(d.getUTCMilliseconds(), 3);
    }
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" +
      pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + pad(d.getMilliseconds(), 3);
  }
  function fromWall(text) {  // the chart's wall clock string back to an instant
    var m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?)?/.exec(String(text));
    if (!m) { return null; }
    var parts = [+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0), +(m[6] || 0), +((m[7] || "0") + "00").slice(0, 3)];
    return zone === "utc" ? new Date(Date.UTC.apply(null, parts)) :
      new Date(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6]);
  }
  function shown(iso) { return wall(iso).slice(0, 16) + (zone === "utc" ? " UTC" : ""); }
  function zoneName() {
    if (zone === "utc") { return "UTC"; }
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || "local time"; } catch (e) { return "local time"; }
  }
  function relabelTimes() {
    Array.prototype.forEach.call(document.querySelectorAll("time[data-zoned]"), function (node) {
      node.textContent = wall(node.getAttribute("datetime")).slice(0, 16);
    });
    Array.prototype.forEach.call(document.querySelectorAll(".zone-name"), function (node) { node.textContent = zoneName(); });
  }

  // --- traces ------------------------------------------------------------------------------------------------
  function laneIndex(result) {
    var index = {};
    result.lanes.forEach(function (lane, i) { index[lane.name] = i; });
    return index;
  }
  function eventHover(e) {
    return "<b>" + esc(e.title) + "</b><br>" + esc(e.type.replace(/_/g, " ")) + " · " + esc(e.severity) +
      (e.count > 1 ? " · ×" + e.count : "") + "<br>" + esc(shown(e.occurred_at)) +
      (e.ended_at ? " → " + esc(shown(e.ended_at)) : "") + "<br>" +
      (e.agents && e.agents.length ? "agents: " + esc(e.agents.join(", ")) : "fleet-wide") +
      (!e.ended_at && (e.type === "outage" || e.type === "maintenance") ? "<br><b>still going on</b>" : "") +
      (e.unplanned ? "<br><b>⚠ unplanned</b>: no intent recorded before it" : "");
  }
  function eventTraces(result, index) {
    return SEVERITIES.map(function (severity) {
      var x = [], y = [], text = [], ids = [];
      result.lanes.forEach(function (lane) {
        (lane.events || []).forEach(function (e) {
          if (e.severity !== severity) { return; }
          x.push(wall(e.occurred_at)); y.push(index[lane.name]); text.push(eventHover(e)); ids.push(e.id);
        });
      });
      return {
        type: "scatter", mode: "markers", name: severity, legendgroup: severity,
        x: x, y: y, text: text, customdata: ids, hovertemplate: "%{text}<extra></extra>",
        marker: { color: COLOURS[severity], symbol: SYMBOLS[severity], size: 11, line: { width: 1, color: "#fff" } }
      };
    });
  }
  function bucketTraces(result, index, plot) {
    var size = BUCKET_MS[result.bucket] || BUCKET_MS.day;
    // A group's marker fits its cell (one bucket wide, one lane high): sized by its count within that, shaded too.
    var span = new Date(result.to).getTime() - new Date(result.from).getTime();
    var cell = Math.min(plot.width * size / Math.max(span, size), plot.height / Math.max(result.lanes.length, 1));
    var largest = Math.max(8, Math.min(34, cell * 0.92)), smallest = Math.max(5, largest * 0.45), most = 1;
    result.lanes.forEach(function (lane) { (lane.buckets || []).forEach(function (b) { most = Math.max(most, b.count); }); });
    var groups = SEVERITIES.map(function () { return { x: [], y: [], text: [], custom: [], sizes: [], labels: [], opacity: [] }; });
    result.lanes.forEach(function (lane) {
      var merged = {};
      (lane.buckets || []).forEach(function (b) {
        var g = merged[b.start] || (merged[b.start] = { start: b.start, count: 0, by: {} });
        var counts = b.counts || {};
        if (!b.counts) { counts[b.severity] = b.count; }
        g.count += b.count;
        Object.keys(counts).forEach(function (s) { g.by[s] = (g.by[s] || 0) + counts[s]; });
      });
      Object.keys(merged).forEach(function (start) {
        var g = merged[start], worst = 0;
        SEVERITIES.forEach(function (s, i) { if (g.by[s]) { worst = i; } });
        var begin = new Date(start).getTime(), middle = new Date(begin + size / 2).toISOString();
        var breakdown = SEVERITIES.slice().reverse().filter(function (s) { return g.by[s]; })
          .map(function (s) { return g.by[s] + " " + s; }).join(", ");
        var group = groups[worst];
        group.x.push(wall(middle)); group.y.push(index[lane.name]);
        group.custom.push([begin, begin + size]);
        var share = Math.sqrt(g.count / most);
        group.sizes.push(smallest + (largest - smallest) * share);
        group.opacity.push(0.45 + 0.55 * share);
        group.labels.push(largest >= 20 && g.count > 1 ? String(g.count) : "");
        group.text.push("<b>" + g.count + " event" + (g.count === 1 ? "" : "s") + "</b> · " + esc(lane.name) + "<br>" +
          esc(breakdown) + "<br>" + esc(result.bucket) + " from " + esc(shown(start)) + "<br><i>click to zoom in</i>");
      });
    });
    return groups.map(function (group, i) {
      var severity = SEVERITIES[i];
      return {
        type: "scatter", mode: "markers+text", name: severity, legendgroup: severity, x: group.x, y: group.y,
        text: group.labels, textposition: "middle center", textfont: { size: 9, color: "#fff" },
        hovertext: group.text, hovertemplate: "%{hovertext}<extra></extra>", customdata: group.custom,
        marker: { color: COLOURS[severity], symbol: SYMBOLS[severity], size: group.sizes, opacity: group.opacity,
                  line: { width: 0.5, color: "#fff" } }
      };
    });
  }
  function intervalTraces(result, index) {
    var now = result.now;
    // At least a 150th of the range wide, so a short outage in a long range can still be seen and hovered.
    var least = (new Date(result.to).getTime() - new Date(result.from).getTime()) / 150;
    var bars = {};
    (result.intervals || []).forEach(function (e) {
      var lanes = e.agents && e.agents.length ? e.agents : ["fleet"];
      lanes.forEach(function (name) {
        if (!(name in index)) { return; }
        var bar = bars[e.severity] || (bars[e.severity] = { y: [], base: [], x: [], text: [], ids: [] });
        var end = e.ended_at || now, start = e.occurred_at;
        bar.y.push(index[name]); bar.base.push(wall(start));
        bar.x.push(Math.max(least, new Date(end).getTime() - new Date(start).getTime()));
        bar.text.push(eventHover(e)); bar.ids.push(e.id);
      });
    });
    return Object.keys(bars).map(function (severity) {
      var bar = bars[severity];
      return {
        type: "bar", orientation: "h", name: severity + " interval", legendgroup: severity, showlegend: false,
        y: bar.y, base: bar.base, x: bar.x, width: 0.42, customdata: bar.ids, hovertext: bar.text,
        hovertemplate: "%{hovertext}<extra></extra>",
        marker: { color: COLOURS[severity], opacity: 0.32, line: { color: COLOURS[severity], width: 1 } }
      };
    });
  }

  // --- drawing -----------------------------------------------------------------------------------------------
  // Every lane gets room for a readable label and a marker (22-28 px); the chart fills the window's height
  // when that allows more, never less.
  function height(lanes) {
    var room = window.innerHeight - 40;
    return Math.round(Math.max(90 + 22 * lanes, Math.min(90 + 28 * lanes, room)));
  }
  // The range with a little room on both sides, so a marker at its very start or end (now) is drawn whole.
  function padded(result) {
    var from = new Date(result.from).getTime(), to = new Date(result.to).getTime(), pad = (to - from) * 0.012;
    return [wall(new Date(from - pad).toISOString()), wall(new Date(to + pad).toISOString())];
  }
  function draw(result) {
    if (!result.total) {  // nothing to chart: a sentence, not an empty plot to puzzle over
      Plotly.purge(holder);
      delete holder.dataset.bound;
      holder.classList.add("chart-empty");
      holder.textContent = page.query ? "No events in this range match these filters." : "No events in this range.";
      return Promise.resolve();
    }
    if (holder.classList.contains("chart-empty")) { holder.textContent = ""; holder.classList.remove("chart-empty"); }
    var index = laneIndex(result);
    var rows = Math.max(result.lanes.length, 1), tall = height(rows);
    var plot = { width: Math.max(200, holder.clientWidth - 160), height: tall - 76 };
    var markers = result.mode === "buckets" ? bucketTraces(result, index, plot) : eventTraces(result, index);
    // Every severity keeps its legend entry, with or without markers, so the key never changes under the user.
    markers.forEach(function (t) { if (!t.x.length) { t.x = [null]; t.y = [null]; } });
    var traces = intervalTraces(result, index).concat(markers);
    var names = result.lanes.map(function (lane) { return lane.name; });
    var layout = {
      uirevision: page.query + "|" + (page.lanes.offset || 0) + "|" + page.lanes.order + "|" + page.lanes.match,
      margin: { l: 20, r: 16, t: 30, b: 46 }, height: tall, barmode: "overlay",
      xaxis: { type: "date", range: padded(result), title: { text: "Time (" + esc(zoneName()) + ")" },
               rangeslider: { visible: false }, showspikes: true, spikemode: "across", spikethickness: 1 },
      yaxis: { tickmode: "array", tickvals: names.map(function (_, i) { return i; }),
               ticktext: names.map(function (name) { return esc(name); }), range: [names.length - 0.5, -0.5],
               automargin: true, fixedrange: true, zeroline: false, gridcolor: "#f1f5f9" },
      legend: { orientation: "h", x: 0, xanchor: "left", y: 1.01, yanchor: "bottom", itemclick: "toggle",
                itemsizing: "constant" },
      hovermode: "closest", dragmode: "zoom", font: { family: "system-ui, sans-serif" }
    };
    var config = { displaylogo: false, responsive: true, showSendToCloud: false, displayModeBar: true,
                   modeBarButtonsToRemove: ["sendChartToCloud", "select2d", "lasso2d", "autoScale2d", "toggleSpikelines"] };
    ignoreRelayout = true;
    return Plotly.react(holder, traces, layout, config).then(function () {
      ignoreRelayout = false;
      if (!holder.dataset.bound) {  // the first plot: from now on zooms and clicks ask for more
        holder.on("plotly_relayout", onRelayout);
        holder.on("plotly_click", onClick);
        holder.dataset.bound = "true";
      }
    });
  }

  // --- what the page says around the chart --------------------------------------------------------------------
  function number(n) { return Number(n || 0).toLocaleString("en-US"); }
  function updateText(result) {
    var summary = document.getElementById("timeline-summary");
    if (summary) {
      summary.innerHTML = "";
      var strong = document.createElement("strong"); strong.textContent = number(result.total);
      summary.appendChild(strong);
      summary.appendChild(document.createTextNode(" event" + (result.total === 1 ? "" : "s") + " from " +
        shown(result.from) + " to " + shown(result.to)));
    }
    var banner = document.getElementById("timeline-banner");
    if (banner) {
      banner.innerHTML = "";
      var notes = [];
      if (result.mode === "buckets") {
        notes.push(["Grouped:", number(result.markers) + " markers in these lanes are drawn as one marker per " +
          result.bucket + " and lane — zoom in, pick fewer agents or filter to see single events."]);
      } else if (result.truncated) {
        notes.push(["Cut:", "showing the newest " + number(result.markers) + " of " + number(result.total) +
          " events — zoom in or filter to see the rest."]);
      }
      if (result.intervals_cut) {
        notes.push(["Bars cut:", "only the " + result.intervals.length + " newest outages and maintenance windows are drawn — zoom in to see the others."]);
      }
      if (result.lanes_total > (page.lanes.limit || Infinity)) {
        notes.push([number(result.lanes_total - result.lanes.length + 1) + " more agents have events here:",
          "this page shows " + (result.lanes.length - 1) + " of " + number(result.lanes_total) + " — page through them or filter.", "banner-info"]);
      }
      notes.forEach(function (note) {
        var p = document.createElement("p"); p.className = "banner" + (note[2] ? " " + note[2] : "");
        var b = document.createElement("strong"); b.textContent = note[0];
        p.appendChild(b); p.appendChild(document.createTextNode(" " + note[1])); banner.appendChild(p);
      });
    }
    var range = document.getElementById("lane-range");
    if (range) {
      var total = result.lanes_total || 0, first = (result.lane_offset || 0) + 1;
      range.textContent = total ? "Agents " + first + "–" + Math.min(first + result.lanes.length - 2, total) + " of " +
        number(total) + " + fleet" : "No agent has events here + fleet";
    }
  }

  // --- zoom: ask again for the new range ---------------------------------------------------------------------
  function url(from, to) {
    var params = new URLSearchParams(page.query);
    params.set("from", from.toISOString()); params.set("to", to.toISOString());
    params.set("lane_offset", String(page.lanes.offset || 0)); params.set("lane_limit", String(page.lanes.limit || 25));
    params.set("lane_order", page.lanes.order || "activity");
    if (page.lanes.match) { params.set("lane", page.lanes.match); }
    params.set("detail", "summary");
    return page.api + "?" + params.toString();
  }
  function requery(from, to, push) {
    if (!(from < to)) { return; }
    var mine = ++requestNumber;
    holder.setAttribute("aria-busy", "true");
    return fetch(url(from, to), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("the tracker answered " + response.status); }
        return response.json();
      })
      .then(function (result) {
        if (mine !== requestNumber) { return; }  // a newer zoom is on its way
        current = result;
        if (push) { remember(from, to); }
        updateText(result);
        return draw(result);
      })
      .catch(function (error) {
        var banner = document.getElementById("timeline-banner");
        if (banner) { banner.textContent = "Could not load that range: " + error.message + ". Reload the page."; }
      })
      .then(function () { if (mine === requestNumber) { holder.removeAttribute("aria-busy"); } });
  }
  function remember(from, to) {
    var params = new URLSearchParams(window.location.search);
    params.delete("range"); params.delete("lane_offset");
    params.set("from", from.toISOString()); params.set("to", to.toISOString());
    window.history.pushState({ from: from.toISOString(), to: to.toISOString() }, "", "?" + params.toString());
  }
  function onRelayout(change) {
    if (ignoreRelayout) { return; }
    var from, to;
    if (change["xaxis.range[0]"] !== undefined) {
      from = fromWall(change["xaxis.range[0]"]); to = fromWall(change["xaxis.range[1]"]);
    } else if (change["xaxis.range"]) {
      from = fromWall(change["xaxis.range"][0]); to = fromWall(change["xaxis.range"][1]);
    } else if (change["xaxis.autorange"]) {  // double-click: back to the range the page opened with
      from = new Date(initial.from); to = new Date(initial.to);
    } else { return; }
    if (!from || !to) { return; }
    window.clearTimeout(pending);
    pending = window.setTimeout(function () { requery(from, to, true); }, 350);
  }
  function onClick(click) {
    var point = click.points && click.points[0];
    if (!point) { return; }
    var data = point.customdata;
    if (Array.isArray(data)) {  // a group: zoom to it
      requery(new Date(data[0]), new Date(data[1]), true);
    } else if (data !== undefined && data !== null) {
      window.location.href = page.event_url + encodeURIComponent(data);
    }
  }

  // --- the outage dialog -------------------------------------------------------------------------------------
  function setUpOutageDialog() {
    var button = document.getElementById("report-outage"), dialog = document.getElementById("outage-dialog");
    if (!button || !dialog || typeof dialog.showModal !== "function") { return; }
    button.addEventListener("click", function (event) {
      event.preventDefault();
      dialog.showModal();
      var title = document.getElementById("o-title");
      if (title) { title.focus(); title.select(); }
    });
    var cancel = document.getElementById("outage-cancel");
    if (cancel) { cancel.addEventListener("click", function () { dialog.close(); }); }
  }

  // --- start -------------------------------------------------------------------------------------------------
  if (zoneSelect) {
    zoneSelect.value = zone;
    zoneSelect.addEventListener("change", function () {
      zone = zoneSelect.value === "local" ? "local" : "utc";
      try { window.localStorage.setItem(ZONE_KEY, zone); } catch (e) { /* private mode: this page only */ }
      relabelTimes(); updateText(current); draw(current);
    });
  }
  window.addEventListener("popstate", function () { window.location.reload(); });
  relabelTimes();
  draw(current).then(function () { holder.setAttribute("data-ready", "true"); });
}());
