/**
 * The one MDX components map. Lessons import nothing: everything they may use
 * is here. Server module; the interactive parts are client components.
 *
 *  - pre:       fenced code → <CodeBlock> (Copy everywhere, Run for ```sh run).
 *               The fence meta arrives as `data-meta` on the inner <code>
 *               thanks to remarkCodeMeta (pass it to compileMDX).
 *  - Exercise:  <Exercise id="..."> box wired to the lab (title/hint from frontmatter).
 *  - Note, Pitfall: callouts.
 */
import { isValidElement, type ComponentProps, type ReactNode } from 'react';
import type { MDXRemoteProps } from 'next-mdx-remote/rsc';
import { CodeBlock } from './CodeBlock';
import { Exercise } from './Exercise';
import { Note, Pitfall } from './Callout';

export { remarkCodeMeta } from './remark-code-meta';

type MDXComponents = NonNullable<MDXRemoteProps['components']>;

function toText(node: ReactNode): string {
  if (typeof node === 'string' || typeof node === 'number') return String(node);
  if (Array.isArray(node)) return node.map(toText).join('');
  if (isValidElement<{ children?: ReactNode }>(node)) return toText(node.props.children);
  return '';
}

/** Words of the fence meta, e.g. ```sh run → ['run']. */
function metaWords(meta: unknown): string[] {
  return typeof meta === 'string' ? meta.split(/\s+/).filter(Boolean) : [];
}

function Pre({ children, ...rest }: ComponentProps<'pre'>) {
  if (isValidElement<{ className?: string; 'data-meta'?: string; children?: ReactNode }>(children)) {
    const { className, children: codeChildren } = children.props;
    const lang = /(?:^|\s)language-(\S+)/.exec(className ?? '')?.[1];
    const code = toText(codeChildren).replace(/\n$/, '');
    const runnable = metaWords(children.props['data-meta']).includes('run');
    return <CodeBlock code={code} lang={lang} runnable={runnable} />;
  }
  return <pre {...rest}>{children}</pre>;
}

export const mdxComponents: MDXComponents = {
  pre: Pre,
  Exercise,
  Note,
  Pitfall,
};
