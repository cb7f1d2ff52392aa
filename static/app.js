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
      const expires = Date.parse(this.$el.dataset.expires);
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
