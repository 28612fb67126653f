// Developer console: copy buttons (`data-copy` names the element whose text is copied).
(function () {
  'use strict';

  function textOf(el) {
    return el.value !== undefined && el.tagName !== 'BUTTON' ? el.value : el.textContent;
  }

  function fallbackCopy(text) {
    var area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.appendChild(area);
    area.select();
    try { document.execCommand('copy'); } finally { document.body.removeChild(area); }
    return Promise.resolve();
  }

  document.addEventListener('click', function (event) {
    var button = event.target.closest('button[data-copy]');
    if (!button) return;
    var target = document.querySelector(button.getAttribute('data-copy'));
    if (!target) return;
    var text = textOf(target).trim();
    var write = navigator.clipboard && window.isSecureContext
      ? navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); })
      : fallbackCopy(text);
    write.then(function () {
      var label = button.textContent;
      button.textContent = button.getAttribute('data-copied') || label;
      window.setTimeout(function () { button.textContent = label; }, 1500);
    });
  });
})();
