"""Classical, training-free baselines: Wiener/log-MMSE enhancement and WPE dereverberation; and
reference enhancers from other projects (optional extra ``avgen[references]``).

* :func:`avgen.baselines.wiener.wiener_enhance` -- minimum-statistics noise PSD (Martin, 2001),
  decision-directed a priori SNR (Ephraim & Malah, 1984), Wiener or log-MMSE gain.
* :func:`avgen.baselines.wpe.wpe_dereverberate` -- single-channel weighted prediction error
  (Nakatani et al., 2010; Yoshioka & Nakatani, 2012).
* :mod:`avgen.baselines.references` -- RNNoise (:func:`~avgen.baselines.rnnoise.rnnoise_enhance`),
  DeepFilterNet3 (:func:`~avgen.baselines.dfn3.dfn3_enhance`) and noisereduce's spectral gating
  (:func:`~avgen.baselines.spectral_gating.spectral_gating_enhance`), with the same signature as
  ``wiener_enhance``, delay compensated; registry :data:`~avgen.baselines.references.REFERENCES`.
"""

from avgen.baselines.wiener import wiener_enhance
from avgen.baselines.wpe import wpe_dereverberate
from avgen.lazy import lazy_exports

__all__ = [
    "dfn3_enhance",
    "rnnoise_enhance",
    "spectral_gating_enhance",
    "wiener_enhance",
    "wpe_dereverberate",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "rnnoise_enhance": "avgen.baselines.rnnoise",
        "dfn3_enhance": "avgen.baselines.dfn3",
        "spectral_gating_enhance": "avgen.baselines.spectral_gating",
    },
    globals(),
)
