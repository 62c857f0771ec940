// placeholder: the browser softphone (issue 14 item 6) is not built yet
(function () { "use strict"; var s = document.getElementById("softphone-state"); if (s) { s.textContent = "not available yet"; } })();
