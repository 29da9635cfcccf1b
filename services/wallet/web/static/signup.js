/* Sign-up in two steps (the bank proves the account is yours): the account number, then
 * the code the bank mailed to its holder and a password; then log in. */
(function () {
  "use strict";
  var start = document.getElementById("signup-start");
  var complete = document.getElementById("signup-complete");
  if (!start || !complete || !window.vellet) return;
  var v = window.vellet;
  v.bind(start, function (f) {
    return v.post("/api/v1/auth/signup", { account_number: f.account_number });
  }, function (answer) {
    if (answer.status !== 202) return v.failure(answer);
    document.getElementById("complete_account_number").value = start.elements.account_number.value.trim();
    complete.hidden = false;
    document.getElementById("code").focus();
    return null;
  });
  v.bind(complete, function (f) {
    var body = { account_number: f.account_number, code: f.code, password: f.password };
    return v.post("/api/v1/auth/signup/complete", body).then(function (answer) {
      if (answer.status !== 201) return answer;
      return v.post("/api/v1/auth/login", { account_number: f.account_number, password: f.password });
    });
  }, function (answer) {
    if (answer.status === 200) { window.location.assign("/dashboard?welcome"); return null; }
    return v.failure(answer);
  });
})();
