// Draw every chart (a div.chart holding its plotly figure as JSON in a script element) with the
// plotly.js loaded above; figures of one page share their list of sessions ("x": "@days").
(function () {
  var days = document.getElementById('hypebt-days');
  days = days ? JSON.parse(days.textContent) : [];
  function expand(trace) {
    ['x', 'y'].forEach(function (k) { if (trace[k] === '@days') { trace[k] = days; } });
    return trace;
  }
  document.querySelectorAll('div.chart').forEach(function (div) {
    var data = div.querySelector('script[type="application/json"]');
    if (!data) { return; }
    var fig = JSON.parse(data.textContent);
    if (typeof Plotly === 'undefined') {
      var p = document.createElement('p'); p.className = 'warning'; p.textContent = HYPEBT_NO_PLOTLY;
      div.appendChild(p); return;
    }
    Plotly.newPlot(div, fig.data.map(expand), fig.layout, {responsive: true, displaylogo: false});
    div.dataset.drawn = String(fig.data.length);
  });
})();
