// Draw every chart div (class chart, its plotly figure as JSON in data-figure) with the plotly.js above.
document.querySelectorAll('div.chart[data-figure]').forEach(function (div) {
  var fig = JSON.parse(div.dataset.figure);
  Plotly.newPlot(div, fig.data, fig.layout, {responsive: true, displaylogo: false});
  div.dataset.drawn = String(fig.data.length);
});
