"""Model-agnostic inference schemes for models with independent per-frame latents.

``inference`` knows tensors, log-density functions and Pyro traces, never the application
domain (it never imports ``avgen``). Modules, one job each:

=========================  =====================================================================
``traces``                 per-frame log joint of any Pyro model (the specification path)
``gaussian_scale``         the Gaussian-scale observation model with a decoded variance and a
                           fixed variance part: its Pyro model and a fused log density
``mh``                     per-frame random-walk Metropolis-Hastings and MALA kernels
``langevin``               unadjusted and stochastic-gradient Langevin kernels
``adaptation``             per-frame dual-averaging step-size adaptation
``chain``                  ``run_chain``: warm-up, thinning, sample storage for any kernel
``pyro_kernel``            a kernel exposed as ``pyro.infer.mcmc.MCMCKernel``
``nmf``                    multiplicative IS-NMF updates with a fixed variance part
``em``                     the Monte-Carlo EM driver ``run_em`` and its ``History``
``esteps``                 MH and Langevin E-steps for the driver
``vem``                    variational E-steps (encoder or sequential-guide fine-tuning)
``nmf_em``                 MCEM for the Gaussian-scale + NMF model, Wiener estimate
``diagnostics``            acceptance, ESS, R-hat, MCSE, Geweke and SBC tests
``diffusion``              diffusion-model toolkit (separate sub-package)
=========================  =====================================================================

Shape convention: a position is ``(..., T, D)`` (chains on the left, ``T`` frames, ``D`` latent
dimensions) and a log density returns one value per frame, ``(..., T)``.
"""
