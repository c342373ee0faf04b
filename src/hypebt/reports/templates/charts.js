// Draw every <div class="chart" data-figure="{plotly JSON}"> with the plotly.js embedded above.
document.querySelectorAll('div.chart[data-figure]').forEach(function (div) {
  var fig = JSON.parse(div.dataset.figure);
  Plotly.newPlot(div, fig.data, fig.layout, {responsive: true, displaylogo: false});
  div.dataset.drawn = String(fig.data.length);
});
