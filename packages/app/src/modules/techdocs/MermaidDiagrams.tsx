import { useEffect } from 'react';
import { useTheme } from '@material-ui/core/styles';
import { useShadowRootElements } from '@backstage/plugin-techdocs-react';

let diagrams = 0;

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
    import('mermaid').then(async ({ default: mermaid }) => {
      mermaid.initialize({
        startOnLoad: false,
        securityLevel: 'strict',
        suppressErrorRendering: true,
        theme: dark ? 'dark' : 'default',
      });
      for (const source of sources) {
        // Drawn, or found not drawable, by an earlier pass.
        if (
          cancelled ||
          !source.isConnected ||
          !source.matches('pre.mermaid')
        ) {
          continue;
        }
        const diagram = document.createElement('div');
        diagram.className = 'portico-mermaid';
        try {
          const { svg } = await mermaid.render(
            `portico-mermaid-${++diagrams}`,
            source.textContent ?? '',
          );
          diagram.innerHTML = svg;
          source.replaceWith(diagram);
        } catch (error) {
          // The source stays, with why it is not drawn.
          diagram.textContent = `This Mermaid diagram could not be drawn: ${
            (error as Error).message.split('\n')[0]
          }`;
          diagram.style.fontStyle = 'italic';
          source.classList.remove('mermaid');
          source.after(diagram);
        }
      }
    });
    return () => {
      cancelled = true;
    };
  }, [sources, dark]);

  return null;
}
