// Merchant dashboard: GMV (line, ¥) and paid orders (bars) per day, with Chart.js 4.
(function () {
  function draw() {
    var canvas = document.getElementById('sales-chart');
    if (!canvas || typeof Chart === 'undefined') return;
    var data = JSON.parse(canvas.getAttribute('data-chart'));
    new Chart(canvas, {
      data: {
        labels: data.labels,
        datasets: [
          {
            type: 'line', label: canvas.dataset.labelGmv, data: data.gmv, yAxisID: 'gmv',
            borderColor: '#1677ff', backgroundColor: 'rgba(22,119,255,0.12)', fill: true,
            tension: 0.3, pointRadius: 3, order: 1
          },
          {
            type: 'bar', label: canvas.dataset.labelOrders, data: data.orders, yAxisID: 'orders',
            backgroundColor: 'rgba(0,168,112,0.55)', borderRadius: 4, maxBarThickness: 26, order: 2
          }
        ]
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: 'index', intersect: false },
        plugins: { legend: { position: 'bottom' } },
        scales: {
          gmv: { type: 'linear', position: 'left', beginAtZero: true,
                 ticks: { callback: function (v) { return '¥' + v.toLocaleString(); } } },
          orders: { type: 'linear', position: 'right', beginAtZero: true,
                    ticks: { precision: 0 }, grid: { drawOnChartArea: false } }
        }
      }
    });
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', draw);
  } else {
    draw();
  }
})();
