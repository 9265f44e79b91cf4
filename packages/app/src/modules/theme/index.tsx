import { createFrontendModule } from '@backstage/frontend-plugin-api';
import { ThemeBlueprint } from '@backstage/plugin-app-react';
import {
  createUnifiedTheme,
  genPageTheme,
  palettes,
  shapes,
  UnifiedTheme,
  UnifiedThemeProvider,
} from '@backstage/theme';
import { ReactElement } from 'react';
import LightIcon from '@material-ui/icons/WbSunny';
import DarkIcon from '@material-ui/icons/Brightness2';

const brand = { deep: '#0f3d3e', teal: '#1f7a6d', mint: '#8fd8c6' };

const pageTheme = {
  home: genPageTheme({ colors: [brand.deep, brand.teal], shape: shapes.wave }),
  documentation: genPageTheme({
    colors: [brand.deep, '#2d6a8f'],
    shape: shapes.wave2,
  }),
  tool: genPageTheme({ colors: [brand.deep, '#5a4b8a'], shape: shapes.round }),
  service: genPageTheme({
    colors: [brand.deep, brand.teal],
    shape: shapes.wave,
  }),
  website: genPageTheme({
    colors: [brand.deep, '#2d6a8f'],
    shape: shapes.wave,
  }),
  library: genPageTheme({
    colors: [brand.deep, '#6b5b2e'],
    shape: shapes.wave,
  }),
  other: genPageTheme({ colors: [brand.deep, '#3f4f5f'], shape: shapes.wave }),
  app: genPageTheme({ colors: [brand.deep, brand.teal], shape: shapes.wave }),
  apis: genPageTheme({ colors: [brand.deep, '#7a4f1f'], shape: shapes.wave2 }),
};

const porticoLight = createUnifiedTheme({
  palette: {
    ...palettes.light,
    primary: { main: brand.teal },
    navigation: {
      ...palettes.light.navigation,
      background: brand.deep,
      indicator: brand.mint,
      selectedColor: '#ffffff',
    },
  },
  defaultPageTheme: 'home',
  pageTheme,
});

const porticoDark = createUnifiedTheme({
  palette: {
    ...palettes.dark,
    primary: { main: brand.mint },
    navigation: {
      ...palettes.dark.navigation,
      background: '#0a2526',
      indicator: brand.mint,
      selectedColor: '#ffffff',
    },
  },
  defaultPageTheme: 'home',
  pageTheme,
});

function porticoTheme(
  variant: 'light' | 'dark',
  theme: UnifiedTheme,
  icon: ReactElement,
) {
  const id = `portico-${variant}`;
  return ThemeBlueprint.make({
    name: id,
    params: {
      theme: {
        id,
        title: `Portico ${variant}`,
        variant,
        icon,
        Provider: ({ children }) => (
          <UnifiedThemeProvider theme={theme} children={children} />
        ),
      },
    },
  });
}

export const themeModule = createFrontendModule({
  pluginId: 'app',
  extensions: [
    porticoTheme('light', porticoLight, <LightIcon />),
    porticoTheme('dark', porticoDark, <DarkIcon />),
  ],
});
