using System.Collections;

namespace FhirArchive.Fhir.Model;

/// <summary>
/// A read-only view of a node's children with a struct enumerator, so walking the tree allocates nothing.
/// It is a snapshot: changing the node's children while enumerating is not supported.
/// </summary>
public readonly struct ChildList : IReadOnlyList<ElementNode>
{
    private readonly ElementNode[]? _items;
    private readonly int _count;

    internal ChildList(ElementNode[]? items, int count)
    {
        _items = items;
        _count = count;
    }

    public int Count => _count;

    public ElementNode this[int index] =>
        (uint)index < (uint)_count ? _items![index] : throw new ArgumentOutOfRangeException(nameof(index));

    public Enumerator GetEnumerator() => new(_items, _count);

    IEnumerator<ElementNode> IEnumerable<ElementNode>.GetEnumerator() => GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public struct Enumerator : IEnumerator<ElementNode>
    {
        private readonly ElementNode[]? _items;
        private readonly int _count;
        private int _index;

        internal Enumerator(ElementNode[]? items, int count)
        {
            _items = items;
            _count = count;
            _index = -1;
        }

        public readonly ElementNode Current => _items![_index];

        readonly object IEnumerator.Current => Current;

        public bool MoveNext() => ++_index < _count;

        public void Reset() => _index = -1;

        public readonly void Dispose()
        {
        }
    }
}
