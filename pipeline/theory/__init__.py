"""The papers' claims, reproduced (issue 4): one small module per part.

    lines       Arjovsky, Chintala & Bottou 2017, Example 1 (parallel lines)
    vanishing   Arjovsky & Bottou 2017, Theorem 2.4 / Figure 2; WGAN Figure 2
    meaningful  WGAN Figures 3 and 4: the loss tracks sample quality
    energy      the WGAN critic as an energy, against log p_real(x)
    ablation    critic optimiser and Lipschitz constraint (clip, GP, SN)
    avb_toy     Mescheder, Nowozin & Geiger 2017, section 6.1
    report      reports/theory.md, rendered from the parts' numbers

Shared pieces: `lipschitz` (the three ways to keep a critic Lipschitz),
`mixture` (WGAN variants trained by the core loop on a 2D mixture, exact W1).
"""
