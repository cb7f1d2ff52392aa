// Blueberry's own script: Alpine components (the CSP build evaluates no strings, so every
// component is registered here) and small htmx settings. Pages work without it.
document.addEventListener("alpine:init", () => {
  // Time left before an environment expires, kept current: <span x-data="countdown" data-expires="RFC 3339">.
  Alpine.data("countdown", () => ({
    text: "",
    timer: null,
    init() {
      this.text = this.$el.textContent;
      this.tick();
      this.timer = setInterval(() => this.tick(), 30000);
    },
    destroy() {
      clearInterval(this.timer);
    },
    tick() {
      const expires = Date.parse(this.$root.dataset.expires);
      if (Number.isNaN(expires)) return;
      const secs = Math.round((expires - Date.now()) / 1000);
      const abs = Math.abs(secs);
      let text;
      if (abs < 60) return void (this.text = "now");
      if (abs < 3600) text = `${Math.floor(abs / 60)} min`;
      else if (abs < 86400) text = `${Math.floor(abs / 3600)} h ${String(Math.floor((abs % 3600) / 60)).padStart(2, "0")} min`;
      else text = `${Math.floor(abs / 86400)} d ${Math.floor((abs % 86400) / 3600)} h`;
      this.text = secs > 0 ? `in ${text}` : `${text} ago`;
    },
  }));

  // Email sign-in with Firebase Auth's REST API (no SDK): the ID token it returns is posted to
  // /login, which verifies it and opens a session. Hidden until this runs: it needs JavaScript.
  Alpine.data("firebaseLogin", () => ({
    error: "",
    busy: false,
    init() {
      this.$el.hidden = false;
    },
    async signIn() {
      this.error = "";
      this.busy = true;
      // $root: in an event handler $el is the element that fired (the form).
      const { apiKey, authUrl } = this.$root.dataset;
      try {
        const response = await fetch(
          `${authUrl}/v1/accounts:signInWithPassword?key=${encodeURIComponent(apiKey)}`,
          {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
              email: this.$refs.email.value,
              password: this.$refs.password.value,
              returnSecureToken: true,
            }),
          },
        );
        const body = await response.json();
        if (!response.ok || !body.idToken) {
          const code = (body.error && body.error.message) || String(response.status);
          this.error = /INVALID|PASSWORD|EMAIL_NOT_FOUND/.test(code)
            ? "Wrong email or password."
            : `Sign-in failed (${code}).`;
          return;
        }
        this.$refs.idToken.value = body.idToken;
        this.$refs.exchange.submit();
      } catch {
        this.error = "Firebase Auth could not be reached; try again, or use an API token.";
      } finally {
        this.busy = false;
      }
    },
  }));

  // A read-only input with a copy button: <div x-data="clipboard"><input x-ref="value"><button x-on:click="copy" x-text="label">.
  Alpine.data("clipboard", () => ({
    label: "Copy",
    async copy() {
      const input = this.$refs.value;
      try {
        await navigator.clipboard.writeText(input.value);
        this.label = "Copied";
      } catch {
        input.select();
        this.label = "Press Ctrl+C";
      }
      setTimeout(() => (this.label = "Copy"), 2000);
    },
  }));
});

// A one-time login link's code leaves the address bar (and so the history) as soon as the page
// has it in its form.
if (document.getElementById("login-link")) {
  const url = new URL(window.location.href);
  url.searchParams.delete("code");
  window.history.replaceState(null, "", url.pathname + url.search + url.hash);
}
