"""Deep Q-learning (Mnih et al., 2013 and 2015) on a cart-pole written out in the package.

The cart-pole is Barto, Sutton & Anderson's (1983), with the constants, the Euler step
and the termination rules of gymnasium's CartPole-v1, so returns here compare with
published ones: +1 per step, the episode ends when the pole leans past 12 degrees or
the cart leaves [-2.4, 2.4], and it is cut off after 500 steps. Many carts run side by
side in one array, so collecting experience costs a few array operations per step
instead of a Python loop per cart.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook import runtime
from cnnbook.activation_race import one_cpu_thread

GRAVITY, CART_MASS, POLE_MASS = 9.8, 1.0, 0.1
HALF_LENGTH, FORCE, TAU = 0.5, 10.0, 0.02  # pole half-length (m), push (N), time step (s)
ANGLE_LIMIT, POSITION_LIMIT, MAX_STEPS = 12 * 2 * math.pi / 360, 2.4, 500
Policy = Callable[[torch.Tensor], torch.Tensor]  # (n, 4) observations -> n actions


class CartPole:
    """`n` independent cart-poles; the state of each is (x, x_dot, theta, theta_dot).

    Like gymnasium, every state component starts uniform in [-0.05, 0.05], action 1
    pushes right and 0 pushes left, and `step` advances by one Euler step of 0.02 s.
    The physics runs in NumPy float64, as gymnasium's does: for a handful of carts a
    NumPy operation costs a fraction of a tensor operation's overhead, and the network
    only sees the float32 observations."""

    def __init__(self, n: int = 1, seed: int = 0, max_steps: int = MAX_STEPS):
        self.n, self.max_steps = n, max_steps
        self.rng = np.random.default_rng(seed + runtime.seed_offset())
        self.state = np.zeros((n, 4))
        self.steps = np.zeros(n, dtype=np.int64)
        self.reset()

    def observe(self) -> torch.Tensor:
        """The (n, 4) float32 observations of the current states."""
        return torch.from_numpy(self.state.astype(np.float32))

    def reset(self, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Start the carts in `mask` (all when None) afresh; the observations of all."""
        mask = np.ones(self.n, dtype=bool) if mask is None else mask.cpu().numpy()
        self.state[mask] = self.rng.uniform(-0.05, 0.05, (int(mask.sum()), 4))
        self.steps[mask] = 0
        return self.observe()

    def step(
        self, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Push every cart: observations after the step, rewards, and two end flags.

        `terminated` means the pole fell or the cart left the track, a real end after
        which nothing more is earned; `truncated` means the 500-step cap was reached,
        where the pole could have gone on. Q-learning bootstraps through the second and
        not the first, so the two must not be merged. An ended cart must be `reset`
        before it is stepped again (its physics would carry on past the end)."""
        x, x_dot, theta, theta_dot = self.state.T
        force = np.where(actions.cpu().numpy() == 1, FORCE, -FORCE)
        cos, sin = np.cos(theta), np.sin(theta)
        total_mass, pole_moment = CART_MASS + POLE_MASS, POLE_MASS * HALF_LENGTH
        temp = (force + pole_moment * theta_dot**2 * sin) / total_mass
        theta_acc = (GRAVITY * sin - cos * temp) / (
            HALF_LENGTH * (4.0 / 3.0 - POLE_MASS * cos**2 / total_mass)
        )
        x_acc = temp - pole_moment * theta_acc * cos / total_mass
        self.state = np.stack(
            [x + TAU * x_dot, x_dot + TAU * x_acc, theta + TAU * theta_dot,
             theta_dot + TAU * theta_acc], axis=1,
        )  # fmt: skip
        self.steps += 1
        terminated = (np.abs(self.state[:, 0]) > POSITION_LIMIT) | (
            np.abs(self.state[:, 2]) > ANGLE_LIMIT
        )
        truncated = ~terminated & (self.steps >= self.max_steps)
        return (self.observe(), torch.ones(self.n), torch.from_numpy(terminated),
                torch.from_numpy(truncated))  # fmt: skip


def td_target(
    rewards: torch.Tensor, dones: torch.Tensor, next_q: torch.Tensor, gamma: float
) -> torch.Tensor:
    """r + gamma * (1 - done) * max_a' Q(s', a'), with next_q the (B, actions) values of
    the next states (from the target network in DQN).

    A terminal state is worth nothing more, so its target is the reward alone; with
    `done` left out, the value of falling over would be bootstrapped from a state the
    cart never reaches."""
    return rewards + gamma * (1 - dones.float()) * next_q.max(dim=1).values


class ReplayBuffer:
    """The last `capacity` transitions (s, a, r, s', terminated), sampled uniformly.

    Consecutive transitions are strongly correlated; drawing a batch from many
    episodes breaks that up, and every transition is used in many updates (Lin, 1992;
    Mnih et al., 2013)."""

    def __init__(self, capacity: int, state_size: int = 4):
        self.states = torch.zeros(capacity, state_size)
        self.next_states = torch.zeros(capacity, state_size)
        self.actions = torch.zeros(capacity, dtype=torch.long)
        self.rewards = torch.zeros(capacity)
        self.dones = torch.zeros(capacity)
        self.capacity, self.size, self.position = capacity, 0, 0

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        states: torch.Tensor,
        actions: torch.Tensor,
        rewards: torch.Tensor,
        next_states: torch.Tensor,
        dones: torch.Tensor,
    ) -> None:
        """Store a batch of transitions, overwriting the oldest once full."""
        index = (self.position + torch.arange(len(states))) % self.capacity
        self.states[index], self.next_states[index] = states.cpu(), next_states.cpu()
        self.actions[index], self.rewards[index] = actions.cpu(), rewards.cpu()
        self.dones[index] = dones.float().cpu()
        self.position = int(index[-1] + 1) % self.capacity
        self.size = min(self.size + len(states), self.capacity)

    def sample(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, ...]:
        """(states, actions, rewards, next_states, dones) of `batch_size` random entries."""
        index = torch.randint(0, self.size, (batch_size,), generator=generator)
        return (self.states[index], self.actions[index], self.rewards[index],
                self.next_states[index], self.dones[index])  # fmt: skip


def q_network(state_size: int = 4, actions: int = 2, hidden: int = 64) -> nn.Sequential:
    """s -> (Q(s, a) for every action): one forward pass scores all actions, which makes
    both the greedy choice and the max in the target one operation."""
    return nn.Sequential(
        nn.Linear(state_size, hidden), nn.ReLU(),
        nn.Linear(hidden, hidden), nn.ReLU(),
        nn.Linear(hidden, actions),
    )  # fmt: skip


@torch.no_grad()
def epsilon_greedy(
    q: nn.Module, states: torch.Tensor, epsilon: float, generator: torch.Generator
) -> torch.Tensor:
    """The greedy action of each state, replaced by a random one with probability
    `epsilon`: the greedy policy alone never tries what it believes is worse."""
    values = q(states.to(next(q.parameters()).device)).cpu()
    random = torch.randint(0, values.shape[1], (len(states),), generator=generator)
    explore = torch.rand(len(states), generator=generator) < epsilon
    return torch.where(explore, random, values.argmax(dim=1))


@torch.no_grad()
def episode_returns(policy: Policy, episodes: int = 20, seed: int = 0) -> torch.Tensor:
    """The return of each of `episodes` cart-pole episodes, run side by side under
    `policy`; the 500-step cap bounds it."""
    env = CartPole(episodes, seed=seed)
    states = env.reset()
    returns = torch.zeros(episodes)
    running = torch.ones(episodes, dtype=torch.bool)
    while running.any():
        states, rewards, terminated, truncated = env.step(policy(states))
        returns += rewards * running
        running &= ~(terminated | truncated)
    return returns


def greedy_policy(q: nn.Module) -> Policy:
    """The policy that always takes the action with the highest Q-value."""
    device = next(q.parameters()).device
    return lambda states: q(states.to(device)).argmax(dim=1).cpu()


def random_policy(seed: int = 0) -> Policy:
    """Left or right with equal probability: the baseline every learner must beat."""
    generator = runtime.generator(seed)
    return lambda states: torch.randint(0, 2, (len(states),), generator=generator)


@dataclass
class DQNHistory:
    """At each evaluation point (env steps taken so far): the greedy policy's mean
    return and the network's mean max_a Q(s, a) over fresh start states; the returns of
    the training episodes in the order they ended; the wall time.

    With reward 1 per step the true value of any state is below 1 / (1 - gamma), so a
    larger `start_value` is not an estimate of anything: the values have diverged."""

    steps: list[int] = field(default_factory=list)
    greedy_return: list[float] = field(default_factory=list)
    start_value: list[float] = field(default_factory=list)
    episode_return: list[float] = field(default_factory=list)
    seconds: float = 0.0


def dqn_update(
    q: nn.Module,
    target: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: tuple[torch.Tensor, ...],
    gamma: float,
) -> torch.Tensor:
    """One gradient step of Q(s, a) towards the TD target computed with `target`.

    The target is a constant for this step (no gradient flows into it): Q-learning
    moves the estimate towards the target, never the target towards the estimate. The
    loss is the Huber loss, Mnih et al.'s clipping of the error to [-1, 1]."""
    states, actions, rewards, next_states, dones = batch
    with torch.no_grad():
        y = td_target(rewards, dones, target(next_states), gamma)
    loss = F.smooth_l1_loss(q(states).gather(1, actions[:, None]).squeeze(1), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.detach()


def train_dqn(
    steps: int,
    device: torch.device | str,
    target_network: bool = True,
    envs: int = 8,
    hidden: int = 64,
    lr: float = 2e-3,
    gamma: float = 0.99,
    batch_size: int = 64,
    buffer_size: int = 10_000,
    target_every: int = 100,
    learning_starts: int = 500,
    explore_fraction: float = 0.4,
    final_epsilon: float = 0.05,
    eval_every: int = 2000,
    eval_episodes: int = 10,
    seed: int = 0,
) -> tuple[nn.Module, DQNHistory]:
    """DQN: epsilon-greedy experience from `envs` carts into a replay buffer, and one
    Adam step on a batch of it per step of the carts, `steps` transitions in all.

    The target r + gamma max_a' Q(s', a') comes from a copy of the network refreshed
    every `target_every` updates (Mnih et al., 2015); with `target_network=False` it
    comes from the network being trained, so every update also moves the target it is
    chasing. Epsilon falls linearly from 1 to `final_epsilon` over the first
    `explore_fraction` of the steps, and every `eval_every` steps the greedy policy is
    scored on `eval_episodes` fresh carts. On the CPU it runs on one thread, which is
    faster for a network this small."""
    runtime.seed(seed)
    q = q_network(hidden=hidden).to(device)
    target = copy.deepcopy(q) if target_network else q
    optimizer = torch.optim.Adam(q.parameters(), lr=lr, fused=True)
    env, buffer = CartPole(envs, seed=seed), ReplayBuffer(buffer_size)
    draws = runtime.generator(seed)
    starts = CartPole(100, seed=seed + 1).reset().to(device)
    states, running = env.reset(), torch.zeros(envs)
    history, start, updates = DQNHistory(), time.perf_counter(), 0
    with one_cpu_thread() if torch.device(device).type == "cpu" else nullcontext():
        for step in range(envs, steps + 1, envs):
            explored = step / (explore_fraction * steps)
            epsilon = max(final_epsilon, 1 - (1 - final_epsilon) * explored)
            actions = epsilon_greedy(q, states, epsilon, draws)
            next_states, rewards, terminated, truncated = env.step(actions)
            buffer.add(states, actions, rewards, next_states, terminated)
            running += rewards
            ended = terminated | truncated
            history.episode_return += running[ended].tolist()
            running[ended] = 0
            states = env.reset(ended)
            if len(buffer) >= learning_starts:
                batch = tuple(t.to(device) for t in buffer.sample(batch_size, draws))
                dqn_update(q, target, optimizer, batch, gamma)
                updates += 1
                if target_network and updates % target_every == 0:
                    target.load_state_dict(q.state_dict())
            if step % eval_every < envs:
                returns = episode_returns(greedy_policy(q), eval_episodes, seed + 10_000 + step)
                with torch.no_grad():
                    value = q(starts).max(dim=1).values.mean()
                history.steps.append(step)
                history.greedy_return.append(float(returns.mean()))
                history.start_value.append(float(value))
    history.seconds = time.perf_counter() - start
    return q, history
