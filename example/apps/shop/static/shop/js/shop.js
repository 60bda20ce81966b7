// Served as /media/shop/js/shop.js, from apps/shop/static/shop/js/
// A classic script: wrapped so its names stay out of the shared global scope.
(() => {
  const el = document.getElementById('shop-status');
  if (!el) return;
  el.textContent = 'shop.js ran';
  el.classList.add('ok');
})();
