/* Vellet dashboard: forms that call /api/v1, and the live channel.
 * Plain JavaScript, no library, no build step. Every string from the server is
 * put in the page as text (textContent) or comes as HTML the server escaped. */
(function () {
  "use strict";

  // Every problem code the API can answer, in words a person can act on.
  var MESSAGES = {
    insufficient_funds: "You don't have enough available money for this. Lower the amount or deposit first.",
    unknown_recipient: "No Vellet wallet has that account number. Check the number with the recipient.",
    same_account: "That is your own account. Enter someone else's account number.",
    currency_mismatch: "That wallet holds a different currency, so this payment cannot go through.",
    invalid_amount: "Enter an amount above zero, with at most two decimals (for example 25.50).",
    invalid_account_number: "An account number is 6 to 20 digits.",
    bank_unavailable: "The bank is not answering right now. Please try again in a few minutes.",
    too_many_attempts: "Too many attempts. Please wait {wait} and try again.",
    invalid_credentials: "The account number or the password is wrong.",
    already_registered: "This account already has a wallet. Log in instead.",
    invalid_code: "That code is wrong, expired or already used. Ask for a new code and try again.",
    unknown_account: "The bank does not know this account number.",
    account_closed: "The bank says this account is not active, so it cannot have a wallet.",
    unsupported_account: "This bank account cannot hold a wallet.",
    weak_password: "That password is too short: choose a longer one (see the hint under the field).",
    idempotency_mismatch: "This form was already used for a different request. Reload the page to start again.",
    idempotency_in_flight: "Your request is still being processed. Wait a moment, then press the button again: it will not be done twice.",
    unavailable: "Vellet is busy or restarting. Press the button again in a moment: it will not be done twice.",
    session_expired: "Your session has expired. Log in again.",
    invalid_session: "Your session has ended. Log in again.",
    unauthorized: "Your session has ended. Log in again.",
    csrf_failed: "This page is out of date. Reload it and try again.",
    network: "Vellet could not be reached. Check your connection and press the button again: it will not be done twice."
  };
  var ENDED = { session_expired: 1, invalid_session: 1, unauthorized: 1 };

  function cookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) return decodeURIComponent(parts[i].slice(eq + 1));
    }
    return "";
  }

  function newKey() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // POST JSON to the API with the CSRF header; resolves to {status, body, headers}.
  function post(path, body, headers) {
    var all = { "Content-Type": "application/json", "X-CSRF-Token": cookie("vellet_csrf") };
    Object.keys(headers || {}).forEach(function (k) { all[k] = headers[k]; });
    return fetch(path, { method: "POST", headers: all, body: body === null ? undefined : JSON.stringify(body),
                         credentials: "same-origin" })
      .then(function (resp) {
        return resp.text().then(function (text) {
          var parsed = null;
          try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = null; }
          return { status: resp.status, body: parsed, headers: resp.headers };
        });
      });
  }

  function wait(seconds) {
    var s = parseInt(seconds, 10);
    if (!(s > 0)) return "a few minutes";
    return s < 120 ? s + " seconds" : Math.ceil(s / 60) + " minutes";
  }

  // The words for a failed answer: ours for every known code, else the API's own detail.
  function message(answer) {
    var code = answer.body && answer.body.code;
    var text = MESSAGES[code];
    if (text) return text.replace("{wait}", wait(answer.headers.get("Retry-After")));
    if (answer.body && answer.body.detail) return answer.body.detail;
    return "Something went wrong (" + answer.status + "). Please try again.";
  }

  function showError(form, text, withLogin) {
    var box = form.querySelector(".error[role=alert]");  // each form has its own
    box.textContent = text;
    if (withLogin) {
      var link = document.createElement("a");
      link.href = "/login";
      link.textContent = " Log in";
      box.appendChild(link);
    }
    box.hidden = false;
    box.focus();
  }

  function clearError(form) {
    var box = form.querySelector(".error[role=alert]");  // each form has its own
    box.hidden = true;
    box.textContent = "";
  }

  function fields(form) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) { if (el.name) out[el.name] = el.value.trim(); });
    return out;
  }

  // A form whose submit calls the API once at a time; `send` returns the answer promise.
  function bind(form, send, onAnswer) {
    var busy = false;
    var button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) return;
      busy = true;
      button.disabled = true;
      form.setAttribute("aria-busy", "true");
      clearError(form);
      send(fields(form)).then(onAnswer, function () {
        return { retry: true, text: MESSAGES.network };
      }).then(function (result) {
        busy = false;
        button.disabled = false;
        form.removeAttribute("aria-busy");
        if (result) showError(form, result.text, result.login);
      });
    });
  }

  function failure(answer) {
    var code = answer.body && answer.body.code;
    return { text: message(answer), login: !!ENDED[code] };
  }

  // --- log in ---------------------------------------------------------------
  var login = document.getElementById("login-form");
  if (login) {
    bind(login, function (f) {
      return post("/api/v1/auth/login", { account_number: f.account_number, password: f.password });
    }, function (answer) {
      if (answer.status === 200) { window.location.assign("/dashboard"); return null; }
      return failure(answer);
    });
  }

  // --- money: send, deposit, withdraw ----------------------------------------
  var TITLES = {
    p2p: { posted: "Money sent" },
    deposit: { posted: "Deposit posted", queued: "Deposit queued", pending: "Deposit pending", failed: "Deposit failed" },
    withdrawal: { posted: "Withdrawal posted", queued: "Withdrawal queued", pending: "Withdrawal pending", voided: "Withdrawal voided" }
  };
  var money = document.getElementById("money-form");
  if (money) {
    var kind = money.getAttribute("data-kind");
    var key = money.querySelector("input[name=idempotency_key]");
    bind(money, function (f) {
      var body = { kind: kind, amount: f.amount, currency: f.currency };
      if (kind === "p2p") {
        body.to_account = f.to_account;
        if (f.note) body.note = f.note;
      }
      return post("/api/v1/transfers", body, { "Idempotency-Key": key.value });
    }, function (answer) {
      if (answer.status === 201 || answer.status === 202) { done(answer.body); return null; }
      var code = answer.body && answer.body.code;
      // A definitive refusal used this key up: a corrected form is a new request.
      // Anything that may still go through keeps the key, so pressing again is safe.
      if (answer.status < 500 && code !== "idempotency_in_flight") key.value = newKey();
      return failure(answer);
    });
  }

  function done(transfer) {
    var panel = document.getElementById("form-done");
    var titles = TITLES[transfer.kind] || {};
    money.hidden = true;
    document.getElementById("done-heading").textContent = titles[transfer.state] || ("Transfer " + transfer.state);
    var text = transfer.amount + " " + transfer.currency;
    if (transfer.kind === "p2p") text += " to " + transfer.to_account + ".";
    else if (transfer.state === "queued") text += ": the bank is not answering yet. It goes through when the bank is back, and this page shows it.";
    else text += ".";
    document.getElementById("done-text").textContent = text;
    var region = document.getElementById("done-transfer");
    region.setAttribute("data-live-src", "/fragments/transfers/" + encodeURIComponent(transfer.id));
    region.setAttribute("data-live-transfer", transfer.id);
    panel.hidden = false;
    panel.focus();
    refresh(transfer.id);
  }

  // --- log out ------------------------------------------------------------------
  var logout = document.getElementById("logout-form");
  if (logout) {
    logout.addEventListener("submit", function (event) {
      event.preventDefault();
      post("/logout", null, {}).then(function () { window.location.assign("/login"); },
                                    function () { window.location.assign("/login"); });
    });
  }

  // --- live updates ---------------------------------------------------------------
  var status = document.getElementById("live-status");

  function setLive(state, text) {
    document.body.setAttribute("data-live", state);
    if (status) status.textContent = "Live updates: " + text;
  }

  function ended(text) {
    setLive("closed", "stopped");
    var banner = document.getElementById("session-ended");
    if (!banner || !banner.hidden) return;
    banner.textContent = text + " ";
    var link = document.createElement("a");
    link.href = "/login";
    link.textContent = "Log in again";
    banner.appendChild(link);
    banner.hidden = false;
  }

  // Re-read every region the change may touch, through the same routes a reload uses.
  var inflight = {};
  function refresh(transferId) {
    var regions = document.querySelectorAll("[data-live-src]");
    Array.prototype.forEach.call(regions, function (el) {
      var src = el.getAttribute("data-live-src");
      var only = el.getAttribute("data-live-transfer");
      if (!src || (only && transferId && only !== transferId)) return;
      if (inflight[src]) { inflight[src] = "again"; return; }
      inflight[src] = "once";
      fetch(src, { credentials: "same-origin", redirect: "manual" }).then(function (resp) {
        if (resp.type === "opaqueredirect" || resp.status === 401) { ended("Your session has ended."); return null; }
        return resp.ok ? resp.text() : null;
      }).then(function (html) {
        if (html !== null) el.innerHTML = html;  // rendered and escaped by the server
      }, function () { return null; }).then(function () {
        var again = inflight[src] === "again";
        delete inflight[src];
        if (again) refresh(transferId);
      });
    });
  }

  function connect() {
    var opened = false;
    var delay = 500;
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/live";
    function open() {
      var ws = new WebSocket(url);
      ws.onmessage = function (event) {
        var msg;
        try { msg = JSON.parse(event.data); } catch (e) { return; }
        if (msg.type === "hello") {
          setLive("open", "on");
          delay = 500;
          if (opened) refresh(null);  // back after a restart: catch up on what was missed
          opened = true;
        } else if (msg.type === "transfer") {
          refresh(msg.transfer_id);
        }
      };
      ws.onclose = function (event) {
        if (event.code === 4000) return ended("You have logged out.");
        if (event.code === 4001) return ended("Your session has expired.");
        if (event.code === 1008) return ended("The live channel was refused.");
        setLive("reconnecting", "reconnecting…");
        // A refused handshake looks like any drop (1006): ask whether the session still holds.
        fetch("/api/v1/me", { credentials: "same-origin" }).then(function (resp) {
          if (resp.status === 401) return ended("Your session has ended.");
          setTimeout(open, delay);
          delay = Math.min(delay * 2, 5000);
        }, function () {
          setTimeout(open, delay);
          delay = Math.min(delay * 2, 5000);
        });
      };
    }
    open();
  }

  if (document.body.hasAttribute("data-live")) connect();

  window.vellet = { post: post, bind: bind, failure: failure };
})();
