"""Diffusion toolkit: schedules, denoiser preconditioning, samplers, posterior sampling.

Model-agnostic (never imports avgen). Convention (Karras et al., 2022, "EDM"): data ``x0``,
noisy ``x = x0 + sigma * eps``; a *denoiser* ``D(x, sigma, cond) ~ E[x0 | x]`` returns a tensor
shaped like ``x``; the score is ``(D(x, sigma) - x) / sigma**2``.
"""
