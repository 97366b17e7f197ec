"""Chapter 10's cart-pole and DQN pieces: the physics against a hand-computed Euler
step, the end of an episode, the TD target, the replay buffer and a short training run."""

import math

import numpy as np
import torch

from cnnbook.rl import (
    ANGLE_LIMIT,
    CartPole,
    ReplayBuffer,
    dqn_update,
    episode_returns,
    epsilon_greedy,
    greedy_policy,
    q_network,
    random_policy,
    td_target,
    train_dqn,
)


def _euler_by_hand(x, x_dot, theta, theta_dot, force):
    """Barto, Sutton & Anderson's equations with gymnasium's constants, one scalar at a
    time: g = 9.8, cart 1.0 kg, pole 0.1 kg, half-length 0.5 m, tau = 0.02 s."""
    total, ml = 1.1, 0.1 * 0.5
    temp = (force + ml * theta_dot**2 * math.sin(theta)) / total
    theta_acc = (9.8 * math.sin(theta) - math.cos(theta) * temp) / (
        0.5 * (4 / 3 - 0.1 * math.cos(theta) ** 2 / total)
    )
    x_acc = temp - ml * theta_acc * math.cos(theta) / total
    return [x + 0.02 * x_dot, x_dot + 0.02 * x_acc, theta + 0.02 * theta_dot,
            theta_dot + 0.02 * theta_acc]  # fmt: skip


def test_one_step_is_the_euler_update_of_the_classic_equations():
    env = CartPole(2)
    start = np.array([[0.1, -0.3, 0.05, 0.4], [-1.0, 0.2, -0.15, -1.0]])
    env.state = start.copy()
    obs, rewards, terminated, truncated = env.step(torch.tensor([1, 0]))
    expected = [_euler_by_hand(*start[0], 10.0), _euler_by_hand(*start[1], -10.0)]
    np.testing.assert_allclose(env.state, expected, rtol=1e-12)
    assert obs.dtype == torch.float32
    torch.testing.assert_close(obs, torch.tensor(expected, dtype=torch.float32))
    assert rewards.tolist() == [1.0, 1.0]
    assert not terminated.any() and not truncated.any()


def test_reset_draws_every_component_in_plus_minus_0_05_and_repeats_with_the_seed():
    states = CartPole(1000, seed=3).reset()
    assert states.abs().max() <= 0.05 and states.abs().max() > 0.045
    torch.testing.assert_close(CartPole(5, seed=3).reset(), CartPole(5, seed=3).reset())
    assert not torch.equal(CartPole(5, seed=3).reset(), CartPole(5, seed=4).reset())


def test_episodes_terminate_past_12_degrees_or_2_4_metres_and_not_before():
    env = CartPole(4)
    inside = ANGLE_LIMIT - 1e-4
    env.state = np.array(
        [[2.39, 1.0, 0.0, 0.0],  # leaves the track this step
         [2.39, 0.0, 0.0, 0.0],  # stays on it
         [0.0, 0.0, inside, 1.0],  # leans past 12 degrees this step
         [0.0, 0.0, -inside, 0.0]]  # not yet (angular velocity 0, acceleration small)
    )  # fmt: skip
    _, _, terminated, truncated = env.step(torch.tensor([1, 0, 1, 1]))
    assert terminated.tolist() == [True, False, True, False]
    assert not truncated.any()
    assert math.isclose(ANGLE_LIMIT, math.radians(12))


def test_a_balancing_controller_is_truncated_at_500_steps_not_terminated():
    def controller(states):  # push towards where the pole is falling
        return (states[:, 2] + 0.5 * states[:, 3] > 0).long()

    assert episode_returns(controller, 8, seed=1).tolist() == [500.0] * 8
    env = CartPole(1, max_steps=3)
    for expected in (False, False, True):
        *_, terminated, truncated = env.step(controller(env.observe()))
        assert truncated.item() is expected and not terminated.item()


def test_a_random_policy_lasts_about_22_steps():
    returns = episode_returns(random_policy(0), 400, seed=2)
    assert 19 < returns.mean() < 25 and returns.min() >= 8


def test_td_target_by_hand():
    rewards = torch.tensor([1.0, 1.0, 0.5])
    dones = torch.tensor([0.0, 1.0, 0.0])
    next_q = torch.tensor([[2.0, 3.0], [10.0, 20.0], [-1.0, -4.0]])
    expected = torch.tensor([1 + 0.9 * 3.0, 1.0, 0.5 + 0.9 * -1.0])
    torch.testing.assert_close(td_target(rewards, dones, next_q, 0.9), expected)
    torch.testing.assert_close(td_target(rewards, dones.bool(), next_q, 0.9), expected)


def test_dqn_update_moves_q_towards_a_fixed_target_and_leaves_the_target_alone():
    torch.manual_seed(0)
    q, target = q_network(hidden=8), q_network(hidden=8)
    frozen = [p.clone() for p in target.parameters()]
    gen = torch.Generator().manual_seed(0)
    batch = (torch.randn(32, 4, generator=gen), torch.randint(0, 2, (32,), generator=gen),
             torch.ones(32), torch.randn(32, 4, generator=gen), torch.zeros(32))  # fmt: skip
    optimizer = torch.optim.SGD(q.parameters(), lr=0.01)

    def error():
        with torch.no_grad():
            y = td_target(batch[2], batch[4], target(batch[3]), 0.9)
            return (q(batch[0]).gather(1, batch[1][:, None]).squeeze(1) - y).abs().mean()

    before = error()
    for _ in range(20):
        dqn_update(q, target, optimizer, batch, 0.9)
    assert error() < before
    for p, p0 in zip(target.parameters(), frozen, strict=True):
        assert torch.equal(p, p0)


def test_replay_buffer_keeps_the_newest_transitions():
    buffer = ReplayBuffer(5, state_size=1)
    for start in (0, 3):
        values = torch.arange(start, start + 3, dtype=torch.float32)
        buffer.add(values[:, None], values.long(), values, values[:, None] + 1, values > 4)
    assert len(buffer) == 5
    assert sorted(buffer.rewards.tolist()) == [1.0, 2.0, 3.0, 4.0, 5.0]  # 0 was overwritten
    states, actions, rewards, next_states, dones = buffer.sample(50, torch.Generator())
    torch.testing.assert_close(states.squeeze(1), rewards)
    torch.testing.assert_close(next_states.squeeze(1), rewards + 1)
    assert actions.tolist() == rewards.long().tolist()
    assert dones.tolist() == (rewards > 4).float().tolist()


def test_epsilon_greedy_is_greedy_at_0_and_uniform_at_1():
    torch.manual_seed(0)
    q = q_network(hidden=8)
    states = torch.randn(2000, 4, generator=torch.Generator().manual_seed(1))
    gen = torch.Generator().manual_seed(2)
    assert torch.equal(epsilon_greedy(q, states, 0.0, gen), greedy_policy(q)(states))
    assert abs(epsilon_greedy(q, states, 1.0, gen).float().mean().item() - 0.5) < 0.05


def test_train_dqn_records_its_curves_and_repeats_exactly():
    options = {"steps": 400, "envs": 4, "learning_starts": 100, "eval_every": 200,
               "eval_episodes": 2, "hidden": 8}  # fmt: skip
    (q, h1), (_, h2) = (train_dqn(device="cpu", seed=5, **options) for _ in range(2))
    assert h1.steps == [200, 400] and isinstance(q, torch.nn.Module)
    assert len(h1.greedy_return) == len(h1.start_value) == 2
    assert h1.greedy_return == h2.greedy_return and h1.episode_return == h2.episode_return
    assert len(h1.episode_return) > 4  # mostly random play: about 22 steps an episode
    _, alone = train_dqn(device="cpu", seed=5, target_network=False, **options)
    assert alone.start_value != h1.start_value
