"""Classical, training-free baselines: Wiener/log-MMSE enhancement and WPE dereverberation.

* :func:`avgen.baselines.wiener.wiener_enhance` -- minimum-statistics noise PSD (Martin, 2001),
  decision-directed a priori SNR (Ephraim & Malah, 1984), Wiener or log-MMSE gain.
* :func:`avgen.baselines.wpe.wpe_dereverberate` -- single-channel weighted prediction error
  (Nakatani et al., 2010; Yoshioka & Nakatani, 2012).
"""

from avgen.baselines.wiener import wiener_enhance
from avgen.baselines.wpe import wpe_dereverberate

__all__ = ["wiener_enhance", "wpe_dereverberate"]
