import { useEffect } from 'react';
import { useTheme } from '@material-ui/core/styles';
import { useShadowRootElements } from '@backstage/plugin-techdocs-react';

let diagrams = 0;
const claimed = new WeakSet<Element>();

/** Leaves a diagram's source as it is, with why it is not drawn under it. */
function explain(source: Element, why: string) {
  const note = document.createElement('div');
  note.textContent = why;
  note.style.fontStyle = 'italic';
  note.style.whiteSpace = 'pre-wrap';
  source.after(note);
}

/**
 * Draws the Mermaid diagrams of a TechDocs page. The techdocs-core stand-in keeps each as its source in
 * `<pre class="mermaid">`, as mkdocs-material does; the page's own scripts, which would draw them, do not
 * run in the TechDocs reader. Mermaid is loaded only for pages that have a diagram.
 */
export function MermaidDiagrams() {
  const sources = useShadowRootElements<HTMLPreElement>(['pre.mermaid']);
  const dark = useTheme().palette.type === 'dark';

  useEffect(() => {
    if (!sources.length) return undefined;
    let cancelled = false;
    import('mermaid')
      .then(async ({ default: mermaid }) => {
        mermaid.initialize({
          startOnLoad: false,
          securityLevel: 'strict',
          suppressErrorRendering: true,
          theme: dark ? 'dark' : 'default',
        });
        for (const source of sources) {
          // Each is drawn once, by the pass that took it, though the page renders again meanwhile.
          if (cancelled || claimed.has(source) || !source.isConnected) continue;
          claimed.add(source);
          try {
            const { svg } = await mermaid.render(
              `portico-mermaid-${++diagrams}`,
              source.textContent ?? '',
            );
            const diagram = document.createElement('div');
            diagram.className = 'portico-mermaid';
            diagram.innerHTML = svg;
            source.replaceWith(diagram);
          } catch (error) {
            explain(
              source,
              `This Mermaid diagram could not be drawn: ${error}`,
            );
          }
        }
      })
      .catch(error => {
        for (const source of sources) {
          if (claimed.has(source)) continue;
          claimed.add(source);
          explain(source, `Mermaid could not be loaded: ${error}`);
        }
      });
    return () => {
      cancelled = true;
    };
  }, [sources, dark]);

  return null;
}
