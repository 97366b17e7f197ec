"""Chapter 2's computational graph shows every node of the network and every edge."""

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from cnnbook.diagrams.graph import BACKWARD, EDGES, NODES, computational_graph


def parts(fig):
    (ax,) = fig.axes
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    return ax, arrows, boxes, [t.get_text() for t in ax.texts]


def test_every_node_is_a_labelled_box_and_every_edge_an_arrow():
    fig = computational_graph(backward=False)
    ax, arrows, boxes, texts = parts(fig)
    assert ax.get_title() == "Computational graph of the two-layer network"
    assert len(boxes) == len(NODES)
    for _, label, _ in NODES.values():
        assert label in texts
    assert len(arrows) == len(EDGES)
    plt.close(fig)


def test_the_graph_holds_the_operations_of_the_network():
    labels = " ".join(label for _, label, _ in NODES.values())
    for operation in ("matmul", r"\tanh", "b_1", "b_2", "W_1", "W_2", "MSE", "Y"):
        assert operation in labels
    # each operation is reached from the input: walk the forward edges from X
    reached, frontier = {"X"}, ["X"]
    while frontier:
        node = frontier.pop()
        for start, end, _ in EDGES:
            if start == node and end not in reached:
                reached.add(end)
                frontier.append(end)
    assert "L" in reached and {"matmul1", "tanh", "matmul2", "mse"} <= reached


def test_backward_arrows_retrace_the_main_row_in_red():
    fig = computational_graph()
    _, arrows, _, texts = parts(fig)
    assert len(arrows) == len(EDGES) + len(BACKWARD)
    red = [a for a in arrows if a.get_edgecolor()[:3] != (0.0, 0.0, 0.0)]
    assert len(red) == len(BACKWARD)
    forward = {(start, end) for start, end, _ in EDGES}
    for start, end, label in BACKWARD:
        assert (end, start) in forward and label in texts
    plt.close(fig)
