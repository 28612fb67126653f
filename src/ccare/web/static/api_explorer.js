// API explorer: signs a native call in the browser (docs/adr/0008) and checks the signed
// response against the platform's public key. The private key never leaves this page:
// it is read from the text area, imported into WebCrypto as non-extractable and used
// only to sign the request text.
(function () {
  'use strict';

  var root = document.getElementById('explorer');
  if (!root) return;
  var T = JSON.parse(document.getElementById('explorer-texts').textContent);
  // The API's mount point in this world ("" live, "/sandbox" in the sandbox).
  var apiBase = root.getAttribute('data-api-base') || '';
  var encoder = new TextEncoder();

  function $(id) { return document.getElementById(id); }

  function ExplorerError(key) { this.key = key; }

  // ------------------------------------------------------------ bytes and keys

  function base64ToBytes(text) {
    var binary = atob(text);
    var out = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  }

  function bytesToBase64(bytes) {
    var binary = '';
    for (var i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  function hex(bytes) {
    return Array.prototype.map.call(bytes, function (b) {
      return ('0' + b.toString(16)).slice(-2);
    }).join('');
  }

  function concat(parts) {
    var length = parts.reduce(function (n, p) { return n + p.length; }, 0);
    var out = new Uint8Array(length);
    var offset = 0;
    parts.forEach(function (p) { out.set(p, offset); offset += p.length; });
    return out;
  }

  // PEM or bare base64 -> {label, der}. Literal "\n" sequences (keys copied out of env
  // files and JSON) are unescaped first, as the server does.
  function unpack(text) {
    text = text.replace(/\\r/g, '').replace(/\\n/g, '\n').trim();
    if (!text) throw new ExplorerError('no_key');
    var label = null;
    var body = text;
    var match = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
    if (text.indexOf('-----BEGIN') !== -1) {
      if (!match) throw new ExplorerError('bad_key');
      label = match[1];
      body = match[2];
    }
    try {
      return { label: label, der: base64ToBytes(body.replace(/\s+/g, '')) };
    } catch (e) {
      throw new ExplorerError('bad_key');
    }
  }

  function derLength(n) {
    if (n < 0x80) return [n];
    var bytes = [];
    while (n > 0) { bytes.unshift(n & 0xff); n >>= 8; }
    return [0x80 | bytes.length].concat(bytes);
  }

  function derTlv(tag, content) {
    return concat([new Uint8Array([tag].concat(derLength(content.length))), content]);
  }

  // Skips a tag and its length; returns the offset of the content.
  function contentOffset(der, offset) {
    var first = der[offset + 1];
    return first < 0x80 ? offset + 2 : offset + 2 + (first & 0x7f);
  }

  // PKCS#1 RSAPrivateKey is SEQUENCE { INTEGER 0, INTEGER n, ... }; PKCS#8 is
  // SEQUENCE { INTEGER 0, SEQUENCE { algorithm }, OCTET STRING }.
  function isPkcs1(der) {
    if (der[0] !== 0x30) return false;
    var version = contentOffset(der, 0);
    if (der[version] !== 0x02) return false;
    var next = version + 2 + der[version + 1];
    return der[next] === 0x02;
  }

  var RSA_ALGORITHM_ID = new Uint8Array([
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00
  ]);

  function pkcs1ToPkcs8(der) {
    return derTlv(0x30, concat([
      new Uint8Array([0x02, 0x01, 0x00]), RSA_ALGORITHM_ID, derTlv(0x04, der)
    ]));
  }

  function contains(haystack, needle, limit) {
    var end = Math.min(haystack.length, limit) - needle.length;
    for (var i = 0; i <= end; i++) {
      var j = 0;
      while (j < needle.length && haystack[i + j] === needle[j]) j++;
      if (j === needle.length) return true;
    }
    return false;
  }

  var ED25519_OID = [0x06, 0x03, 0x2b, 0x65, 0x70];

  var ALGORITHMS = {
    RSA2: { importParams: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, sign: 'RSASSA-PKCS1-v1_5',
            scheme: 'CCARE-SHA256withRSA' },
    ED25519: { importParams: { name: 'Ed25519' }, sign: 'Ed25519', scheme: 'CCARE-ED25519' }
  };

  function importPrivateKey(text) {
    var unpacked = unpack(text);
    var label = unpacked.label;
    var der = unpacked.der;
    if (label === 'ENCRYPTED PRIVATE KEY') return Promise.reject(new ExplorerError('encrypted'));
    if (label && label.indexOf('PUBLIC KEY') !== -1) {
      return Promise.reject(new ExplorerError('public_given'));
    }
    if (label === 'RSA PRIVATE KEY' || (label === null && isPkcs1(der))) der = pkcs1ToPkcs8(der);
    else if (label !== null && label !== 'PRIVATE KEY') {
      return Promise.reject(new ExplorerError('bad_key'));
    }
    var algorithm = contains(der, ED25519_OID, 24) ? 'ED25519' : 'RSA2';
    var params = ALGORITHMS[algorithm].importParams;
    return crypto.subtle.importKey('pkcs8', der, params, false, ['sign']).then(
      function (key) { return { key: key, algorithm: algorithm }; },
      function () {
        throw new ExplorerError(algorithm === 'ED25519' && !ed25519Supported ? 'no_ed25519' : 'bad_key');
      }
    );
  }

  var ed25519Supported = true;
  try {
    crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign']).catch(function () {
      ed25519Supported = false;
    });
  } catch (e) {
    ed25519Supported = false;
  }

  var platformKeys = {};

  function platformKey(algorithm) {
    if (!platformKeys[algorithm]) {
      var url = apiBase + '/api/v1/platform-key?algorithm=' + encodeURIComponent(algorithm) + '&format=spki';
      platformKeys[algorithm] = fetch(url, { credentials: 'omit', cache: 'no-store' })
        .then(function (r) {
          if (!r.ok) throw new Error('platform key: HTTP ' + r.status);
          return r.json();
        })
        .then(function (body) {
          return crypto.subtle.importKey(
            'spki', unpack(body.public_key).der, ALGORITHMS[algorithm].importParams, false, ['verify']
          );
        });
      platformKeys[algorithm].catch(function () { delete platformKeys[algorithm]; });
    }
    return platformKeys[algorithm];
  }

  // ------------------------------------------------------------ the request

  function fail(key, detail) {
    var box = $('ex-error');
    box.textContent = (T[key] || key) + (detail ? ' ' + detail : '');
    box.hidden = false;
  }

  function clearResult() {
    $('ex-error').hidden = true;
    $('ex-status').textContent = '…';
    $('ex-status').className = 'status-code';
    $('ex-response').textContent = '';
    $('ex-response-headers').textContent = '';
    $('ex-signed-text').textContent = '';
    $('ex-authorization').textContent = '';
    setVerify('none', T.sending);
  }

  function setVerify(state, text) {
    var el = $('ex-verify');
    el.className = state === 'ok' ? 'verify-ok' : state === 'bad' ? 'verify-bad' : 'verify-none';
    el.setAttribute('data-verified', state === 'ok' ? 'true' : state === 'bad' ? 'false' : '');
    el.textContent = text;
  }

  function pretty(text) {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
  }

  function verifyResponse(response, bodyBytes) {
    var signature = response.headers.get('ccare-signature');
    var timestamp = response.headers.get('ccare-timestamp');
    var nonce = response.headers.get('ccare-nonce');
    var algorithm = response.headers.get('ccare-sign-type');
    if (!signature || !timestamp || !nonce || !ALGORITHMS[algorithm]) {
      setVerify('none', T.unsigned);
      return Promise.resolve();
    }
    var message = concat([
      encoder.encode(timestamp + '\n' + nonce + '\n'), bodyBytes, encoder.encode('\n')
    ]);
    return platformKey(algorithm).then(function (key) {
      var raw;
      try { raw = base64ToBytes(signature); } catch (e) { return false; }
      return crypto.subtle.verify(ALGORITHMS[algorithm].sign, key, raw, message);
    }).then(function (ok) {
      if (ok) setVerify('ok', T.verified + ' (' + algorithm + ')');
      else setVerify('bad', T.not_verified + ' (' + algorithm + ')');
    });
  }

  function send() {
    clearResult();
    if (!window.crypto || !window.crypto.subtle) return Promise.reject(new ExplorerError('insecure'));
    var appId = $('ex-app-id').value.trim();
    var method = $('ex-method').value;
    var token = $('ex-token').value.trim();
    var body = method === 'GET' ? '' : $('ex-body').value;
    if (!/^[0-9]{16}$/.test(appId)) return Promise.reject(new ExplorerError('bad_app_id'));
    var path = $('ex-path').value.trim();
    if (apiBase && path.indexOf(apiBase + '/') !== 0) path = apiBase + path;
    var target;
    try { target = new URL(path, window.location.origin); } catch (e) { target = null; }
    if (!target || target.origin !== window.location.origin ||
        target.pathname.indexOf(apiBase + '/api/') !== 0) {
      return Promise.reject(new ExplorerError('bad_path'));
    }
    // Exactly what the browser puts on the request line (the signed path includes the base).
    var pathQuery = target.pathname + target.search;
    if (body.trim()) {
      try { JSON.parse(body); } catch (e) { return Promise.reject(new ExplorerError('bad_json')); }
    }
    return importPrivateKey($('ex-private-key').value).then(function (signer) {
      var nonce = hex(crypto.getRandomValues(new Uint8Array(16)));
      var timestamp = String(Date.now());
      var head = 'app_id=' + appId + ',nonce=' + nonce + ',timestamp=' + timestamp;
      var text = head + '\n' + method + '\n' + pathQuery + '\n' + body + '\n' + (token ? token + '\n' : '');
      var algorithm = ALGORITHMS[signer.algorithm];
      return crypto.subtle.sign(algorithm.sign, signer.key, encoder.encode(text)).then(function (sig) {
        var authorization = algorithm.scheme + ' ' + head + ',sign=' + bytesToBase64(new Uint8Array(sig));
        $('ex-signed-text').textContent = text;
        $('ex-authorization').textContent = 'Authorization: ' + authorization;
        var headers = { Authorization: authorization, Accept: 'application/json' };
        if (body) headers['Content-Type'] = 'application/json';
        if (token) headers['ccare-app-auth-token'] = token;
        var init = { method: method, headers: headers, credentials: 'omit', cache: 'no-store' };
        if (method !== 'GET') init.body = body;
        return fetch(pathQuery, init);
      });
    }).then(function (response) {
      return response.arrayBuffer().then(function (buffer) {
        var bytes = new Uint8Array(buffer);
        var status = $('ex-status');
        status.textContent = String(response.status);
        status.className = 'status-code status-' + String(response.status).charAt(0) + 'xx';
        $('ex-response').textContent = pretty(new TextDecoder().decode(bytes));
        var lines = [];
        response.headers.forEach(function (value, name) { lines.push(name + ': ' + value); });
        $('ex-response-headers').textContent = lines.sort().join('\n');
        return verifyResponse(response, bytes);
      });
    });
  }

  $('ex-send').addEventListener('click', function () {
    var button = this;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    send().catch(function (error) {
      setVerify('none', '');
      $('ex-status').textContent = '—';
      if (error instanceof ExplorerError) fail(error.key);
      else fail('network', String(error && error.message || error));
    }).then(function () {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    });
  });

  $('ex-preset').addEventListener('change', function () {
    var option = this.options[this.selectedIndex];
    $('ex-method').value = option.getAttribute('data-method');
    $('ex-path').value = option.getAttribute('data-path');
    $('ex-body').value = option.getAttribute('data-body');
  });
})();
