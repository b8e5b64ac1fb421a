// Draws the swimlane timeline from the JSON the page embeds (no second request, no CSRF).
(function () {
  "use strict";
  var SEVERITY_COLOURS = {
    info: "#6b7280", low: "#2563eb", medium: "#d97706", high: "#dc2626", critical: "#7f1d1d"
  };
  var ORDER = ["info", "low", "medium", "high", "critical"];
  var holder = document.getElementById("timeline");
  var source = document.getElementById("timeline-data");
  if (!holder || !source || typeof Plotly === "undefined") { return; }
  var data = JSON.parse(source.textContent);

  var traces = ORDER.map(function (severity) {
    var x = [], y = [], text = [], ids = [];
    data.events.forEach(function (e) {
      if (e.severity !== severity) { return; }
      (e.agents.length ? e.agents : ["fleet"]).forEach(function (lane) {
        x.push(e.occurred_at);
        y.push(lane);
        text.push([e.title, e.type, e.occurred_at.replace("T", " ").slice(0, 16) + " UTC"]);
        ids.push(e.id);
      });
    });
    return {
      type: "scatter", mode: "markers", name: severity, x: x, y: y, customdata: text, ids: ids.map(String),
      marker: { color: SEVERITY_COLOURS[severity], size: 11, line: { width: 1, color: "#fff" } },
      hovertemplate: "<b>%{customdata[0]}</b><br>%{customdata[1]}<br>%{customdata[2]}<extra>%{fullData.name}</extra>"
    };
  }).filter(function (t) { return t.x.length > 0; });

  // Outages and maintenance are intervals: a translucent bar from start to end under their marker.
  var intervals = ORDER.map(function (severity) {
    var x = [], y = [];
    data.events.forEach(function (e) {
      if (e.severity !== severity || !e.ended_at) { return; }
      (e.agents.length ? e.agents : ["fleet"]).forEach(function (lane) {
        x.push(e.occurred_at, e.ended_at, null);
        y.push(lane, lane, null);
      });
    });
    return {
      type: "scatter", mode: "lines", x: x, y: y, showlegend: false, hoverinfo: "skip",
      line: { color: SEVERITY_COLOURS[severity], width: 8 }, opacity: 0.35
    };
  }).filter(function (t) { return t.x.length > 0; });

  if (!traces.length) {  // an empty Plotly chart would show a meaningless axis (year 2000)
    holder.classList.add("chart-empty");
    holder.textContent = "No events to chart for these filters.";
    return;
  }

  var layout = {
    margin: { l: 120, r: 20, t: 36, b: 40 },
    height: Math.max(220, 60 + 34 * data.lanes.length),
    xaxis: { type: "date", title: { text: "UTC" } },
    yaxis: { type: "category", categoryorder: "array", categoryarray: data.lanes.slice().reverse(), automargin: true },
    // Above the plot area, anchored at its bottom: at y 1.08 anchored at its top it covered the first lane.
    legend: { orientation: "h", x: 0, xanchor: "left", y: 1.02, yanchor: "bottom" },
    hovermode: "closest"
  };
  // plotly.js 4 shows a "Share chart..." button by default that opens cloud.plotly.com and posts the chart
  // (every title and agent name) to it: never offer that on an intranet ledger.
  var config = {
    displaylogo: false, responsive: true, showSendToCloud: false,
    modeBarButtonsToRemove: ["sendChartToCloud", "select2d", "lasso2d"]
  };
  Plotly.newPlot(holder, intervals.concat(traces), layout, config);
  // A marker is a way into its event.
  holder.on("plotly_click", function (click) {
    var point = click.points && click.points[0];
    if (point && point.id) { window.location.href = "/events/" + encodeURIComponent(point.id); }
  });
}());
