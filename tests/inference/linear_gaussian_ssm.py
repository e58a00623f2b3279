"""A small linear-Gaussian state-space model whose posterior is known (no avgen).

    z_0 ~ N(0, I),  z_t = A z_{t-1} + w_t,  w_t ~ N(0, Q),  x_t = C z_t + v_t,  v_t ~ N(0, r I)

with ``A = rho * rotation(angle)`` and ``Q = (1 - rho^2) I``, so every ``z_t`` is marginally
N(0, I) (the chain starts stationary). The posterior ``p(z | x)`` is Gaussian with mean given by
the Rauch-Tung-Striebel smoother (Rauch, Tung & Striebel 1965), and equally by solving the dense
``(T D) x (T D)`` linear system of the joint Gaussian (:meth:`posterior_mean_dense`, its check).
"""

from __future__ import annotations

import math

import torch

from inference.markov_mh import MarkovTerms

LOG_2PI = math.log(2 * math.pi)


def _normal_log_prob(x: torch.Tensor, loc: torch.Tensor, variance: float) -> torch.Tensor:
    """``sum_d log N(x_d; loc_d, variance)`` over the last dimension."""
    return ((x - loc).square() / variance + LOG_2PI + math.log(variance)).sum(-1).mul(-0.5)


class LinearGaussianSSM:
    def __init__(
        self,
        latent_dim: int = 2,
        obs_dim: int = 3,
        rho: float = 0.9,
        angle: float = 0.5,
        obs_variance: float = 0.5,
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        if latent_dim != 2:
            raise ValueError("the rotation is 2-D")
        gen = torch.Generator().manual_seed(seed)
        c, s = math.cos(angle), math.sin(angle)
        self.A = rho * torch.tensor([[c, -s], [s, c]], dtype=dtype)
        self.q = 1.0 - rho**2
        self.C = torch.randn(obs_dim, latent_dim, generator=gen, dtype=dtype)
        self.r = obs_variance
        self.latent_dim, self.obs_dim, self.dtype = latent_dim, obs_dim, dtype

    # ---------------------------------------------------------------- simulation
    def sample_latents(self, shape: tuple[int, ...], n_frames: int, generator) -> torch.Tensor:
        """``(*shape, T, D)`` trajectories from the prior."""
        z = torch.empty(*shape, n_frames, self.latent_dim, dtype=self.dtype)
        z[..., 0, :] = torch.randn(*shape, self.latent_dim, generator=generator, dtype=self.dtype)
        for t in range(1, n_frames):
            noise = torch.randn(*shape, self.latent_dim, generator=generator, dtype=self.dtype)
            z[..., t, :] = z[..., t - 1, :] @ self.A.T + math.sqrt(self.q) * noise
        return z

    def sample_observations(self, z: torch.Tensor, generator) -> torch.Tensor:
        noise = torch.randn(*z.shape[:-1], self.obs_dim, generator=generator, dtype=self.dtype)
        return z @ self.C.T + math.sqrt(self.r) * noise

    # ---------------------------------------------------------------- densities
    def terms_fn(self, x: torch.Tensor, drop_forward: bool = False):
        """``z -> MarkovTerms`` given observations ``x`` ``(..., T, O)``. ``drop_forward``
        (BROKEN on purpose) zeroes the transitions so that no frame sees ``p(z_{t+1} | z_t)``
        and only a N(0, I) stays as each frame's prior."""

        def terms(z: torch.Tensor) -> MarkovTerms:
            emission = _normal_log_prob(x, z @ self.C.T, self.r)
            previous = torch.nn.functional.pad(z[..., :-1, :], (0, 0, 1, 0))
            transition = _normal_log_prob(z, previous @ self.A.T, self.q)
            initial = _normal_log_prob(z[..., 0, :], torch.zeros_like(z[..., 0, :]), 1.0)
            transition = torch.cat([initial.unsqueeze(-1), transition[..., 1:]], dim=-1)
            if drop_forward:
                transition = _normal_log_prob(z, torch.zeros_like(z), 1.0)
            return MarkovTerms(emission, transition)

        return terms

    # ---------------------------------------------------------------- exact posterior
    def posterior_mean_rts(self, x: torch.Tensor) -> torch.Tensor:
        """Kalman filter + RTS smoother: ``E[z_t | x_{0:T-1}]`` for ``x`` ``(T, O)``."""
        n_frames, eye = x.shape[0], torch.eye(self.latent_dim, dtype=self.dtype)
        R = self.r * torch.eye(self.obs_dim, dtype=self.dtype)
        Q = self.q * eye
        means, covs, pred_means, pred_covs = [], [], [], []
        m_pred, P_pred = torch.zeros(self.latent_dim, dtype=self.dtype), eye.clone()
        for t in range(n_frames):
            if t > 0:
                m_pred, P_pred = self.A @ means[-1], self.A @ covs[-1] @ self.A.T + Q
            S = self.C @ P_pred @ self.C.T + R
            K = torch.linalg.solve(S, self.C @ P_pred).T
            means.append(m_pred + K @ (x[t] - self.C @ m_pred))
            covs.append((eye - K @ self.C) @ P_pred)
            pred_means.append(m_pred)
            pred_covs.append(P_pred)
        smoothed = [means[-1]]
        P_s = covs[-1]
        for t in range(n_frames - 2, -1, -1):
            G = covs[t] @ self.A.T @ torch.linalg.inv(pred_covs[t + 1])
            m_s = means[t] + G @ (smoothed[0] - pred_means[t + 1])
            P_s = covs[t] + G @ (P_s - pred_covs[t + 1]) @ G.T
            smoothed.insert(0, m_s)
        return torch.stack(smoothed)

    def posterior_mean_dense(self, x: torch.Tensor) -> torch.Tensor:
        """The same mean from the joint Gaussian: precision ``J`` of ``p(z)`` (block tridiagonal)
        plus ``C^T C / r`` per frame; mean ``= J^{-1} (C^T x_t / r)_t``."""
        n_frames, d = x.shape[0], self.latent_dim
        J = torch.zeros(n_frames * d, n_frames * d, dtype=self.dtype)
        eye = torch.eye(d, dtype=self.dtype)
        AtA = self.A.T @ self.A / self.q
        for t in range(n_frames):
            block = slice(t * d, (t + 1) * d)
            J[block, block] += (eye if t == 0 else eye / self.q) + self.C.T @ self.C / self.r
            if t + 1 < n_frames:
                nxt = slice((t + 1) * d, (t + 2) * d)
                J[block, block] += AtA
                J[block, nxt] -= self.A.T / self.q
                J[nxt, block] -= self.A / self.q
        h = (x @ self.C / self.r).reshape(-1)
        return torch.linalg.solve(J, h).reshape(n_frames, d)
