"""Parts of unsupervised VAE-NMF speech enhancement (the pipeline is :mod:`avgen.enhance`).

* :mod:`avgen.enhancement.schemes` -- the E-step schemes and the :class:`Schedule`;
* :mod:`avgen.enhancement.target` -- what a prior brings: decoder, latent prior, start, encoder.
"""
