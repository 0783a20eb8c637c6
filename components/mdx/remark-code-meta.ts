/**
 * remark plugin: keep a code fence's meta string. MDX drops `node.meta` when it
 * turns ```` ```sh run ```` into <pre><code>; copying it onto
 * `data.hProperties['data-meta']` makes it arrive as a `data-meta` prop on the
 * <code> element, where components/mdx reads it. No dependencies: a plain
 * recursive walk over the mdast tree.
 */
interface MdastNode {
  type: string;
  meta?: string | null;
  data?: { hProperties?: Record<string, unknown>; [key: string]: unknown };
  children?: MdastNode[];
}

function walk(node: MdastNode): void {
  if (node.type === 'code' && typeof node.meta === 'string' && node.meta.trim() !== '') {
    node.data ??= {};
    node.data.hProperties = { ...node.data.hProperties, 'data-meta': node.meta.trim() };
  }
  if (Array.isArray(node.children)) for (const child of node.children) walk(child);
}

export function remarkCodeMeta() {
  return (tree: object): void => {
    walk(tree as MdastNode);
  };
}
