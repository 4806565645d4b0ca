"""The papers' claims, reproduced: one small module per part.

    lines       Arjovsky, Chintala & Bottou 2017, Example 1 (parallel lines)
    vanishing   Arjovsky & Bottou 2017, Theorem 2.4 / Figure 2; WGAN Figure 2
    meaningful  WGAN Figures 3 and 4: the loss tracks sample quality
    energy      the WGAN critic as an energy, against log p_real(x)
    ablation    critic optimiser and Lipschitz constraint (clipping, gradient penalty, spectral normalisation)
    avb_toy     Mescheder, Nowozin & Geiger 2017, section 6.1
    findings    what the parts' records say: every number and verdict the page states (a package, by question)
    templates   the page's words: page.md.j2, one <part>.md.j2 per part, shared phrases in _macros.md.j2
    report      reports/theory.md: the findings rendered through the templates (number formats here)

Parts 3-5 train the core's WGAN / GAN on the core's 2D mixture through the
core loop (`mixture`); parts 1 and 2 need their own loops (`updates`: ensembles,
fixed generators) built from the core's losses and optimiser factory.
"""
