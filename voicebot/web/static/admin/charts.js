// Draws the console's charts from the JSON in <script id="chart-data"> (no inline scripts: CSP).
(function () {
  "use strict";
  var holder = document.getElementById("chart-data");
  if (!holder || typeof Chart === "undefined") { return; }
  var data = JSON.parse(holder.textContent);
  var colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
  Object.keys(data).forEach(function (id) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    var spec = data[id];
    var names = Object.keys(spec.series);
    var datasets = names.map(function (name, i) {
      var isPie = spec.type === "doughnut";
      return { label: name, data: spec.series[name], borderColor: isPie ? "#fff" : colours[i % colours.length],
               backgroundColor: isPie ? colours : colours[i % colours.length], fill: false, tension: 0.2 };
    });
    var title = canvas.getAttribute("aria-label") || id;
    var chart = new Chart(canvas, {
      type: spec.type, data: { labels: spec.labels, datasets: datasets },
      options: { animation: false, maintainAspectRatio: false, responsive: true,
                 plugins: { title: { display: true, text: title } } }
    });
    canvas.setAttribute("data-drawn", String(chart.data.labels.length));
  });
})();
