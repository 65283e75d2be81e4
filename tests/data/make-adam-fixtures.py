#!/usr/bin/python3
# Writes tests/data/adam.json: torch.optim.Adam and torch.optim.AdamW
# updates over several steps with given gradients, for
# tests/test-train-reference.c.
#
# Made with (from the project root, Debian's python3-torch 1.13):
#   /usr/bin/python3 tests/data/make-adam-fixtures.py
#
# Each case: one flat float32 parameter vector p0 (n), the gradient of every
# step grads (K, n), the learning rate of every step lrs (K) (changed
# between steps, as a schedule does) and the parameters after every step
# params (K, n), plus exp_avg and exp_avg_sq after the last step. Gradients
# span several scales (1e-4 .. 10) and include exact zeros, so eps and the
# bias corrections both matter.
import json

import torch

N = 40
K = 6


def f9(values):
    return [float('%.9g' % v) for v in values]


def case(seed, opt_class, **kwargs):
    g = torch.Generator().manual_seed(seed)
    p0 = torch.randn(N, generator=g, dtype=torch.float32)
    scales = torch.tensor([10.0 ** e for e in (-4, -2, 0, 1)],
                          dtype=torch.float32).repeat(N // 4)
    grads = torch.randn(K, N, generator=g, dtype=torch.float32) * scales
    grads[:, 5] = 0.0           # a parameter that never gets a gradient
    grads[2, 7] = 0.0           # one that misses a step
    lrs = [1e-3, 3e-3, 1e-2, 5e-3, 2e-3, 1e-4]
    p = torch.nn.Parameter(p0.clone())
    opt = opt_class([p], lr=lrs[0], **kwargs)
    after = []
    for k in range(K):
        for group in opt.param_groups:
            group['lr'] = lrs[k]
        p.grad = grads[k].clone()
        opt.step()
        after.append(p.detach().clone())
    state = opt.state[p]
    return {
        'n': N, 'k': K,
        'beta1': kwargs.get('betas', (0.9, 0.999))[0],
        'beta2': kwargs.get('betas', (0.9, 0.999))[1],
        'eps': kwargs.get('eps', 1e-8),
        'weight_decay': kwargs.get('weight_decay', 0.0),
        'decoupled': 1 if opt_class is torch.optim.AdamW else 0,
        'p0': f9(p0.tolist()),
        'grads': f9(grads.flatten().tolist()),
        'lrs': lrs,
        'params': f9(torch.stack(after).flatten().tolist()),
        'exp_avg': f9(state['exp_avg'].tolist()),
        'exp_avg_sq': f9(state['exp_avg_sq'].tolist()),
    }


def main():
    out = {
        'adam': case(1, torch.optim.Adam),
        'adam_betas': case(2, torch.optim.Adam,
                           betas=(0.8, 0.98), eps=1e-9),
        'adam_l2': case(3, torch.optim.Adam, weight_decay=0.05),
        'adamw': case(4, torch.optim.AdamW, weight_decay=0.1),
    }
    with open('tests/data/adam.json', 'w') as f:
        f.write('{\n')
        f.write(',\n'.join(' %s: %s' % (json.dumps(k), json.dumps(v))
                            for k, v in out.items()))
        f.write('\n}\n')


if __name__ == '__main__':
    main()
