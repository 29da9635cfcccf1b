/* Sign-up on its own: today one step (account number + password), then log in.
 * The two-step flow (a code from the bank) replaces this file and signup.html. */
(function () {
  "use strict";
  var form = document.getElementById("signup-form");
  if (!form || !window.vellet) return;
  var v = window.vellet;
  v.bind(form, function (f) {
    var creds = { account_number: f.account_number, password: f.password };
    return v.post("/api/v1/auth/signup", creds).then(function (answer) {
      if (answer.status !== 201) return answer;
      return v.post("/api/v1/auth/login", creds);
    });
  }, function (answer) {
    if (answer.status === 200) { window.location.assign("/dashboard?welcome"); return null; }
    return v.failure(answer);
  });
})();
