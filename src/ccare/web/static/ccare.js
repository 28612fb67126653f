// Small behaviours shared by every page: confirmations and no double submits.
(function () {
  document.addEventListener('submit', function (event) {
    var form = event.target;
    var question = form.getAttribute('data-confirm');
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    // Forms handled by htmx stay usable; plain forms are sent once.
    if (!form.hasAttribute('hx-post') && !form.hasAttribute('hx-get')) {
      form.querySelectorAll('button[type=submit]').forEach(function (b) {
        window.setTimeout(function () { b.disabled = true; b.setAttribute('aria-busy', 'true'); }, 0);
      });
    }
  });
  // Pages restored from the back/forward cache get their buttons back.
  window.addEventListener('pageshow', function () {
    document.querySelectorAll('button[aria-busy=true]').forEach(function (b) {
      b.disabled = false; b.removeAttribute('aria-busy');
    });
  });
})();
