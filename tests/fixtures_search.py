"""Fixtures of the search-side tests (``from fixtures_search import one_thread``)."""
import pytest
import torch


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    """Tiny tensors on a shared 2-core machine run far faster without intra-op threads.

    Autouse: importing it into a test module runs that module's tests on one thread.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
