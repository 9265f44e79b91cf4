import {
  Link,
  sidebarConfig,
  useSidebarOpenState,
} from '@backstage/core-components';
import { LogoFull, LogoIcon } from './PorticoLogo';

export const SidebarLogo = () => {
  const { isOpen } = useSidebarOpenState();
  return (
    <div
      style={{
        width: sidebarConfig.drawerWidthClosed,
        height: 3 * sidebarConfig.logoHeight,
        display: 'flex',
        alignItems: 'center',
        marginBottom: -14,
      }}
    >
      <Link
        to="/"
        underline="none"
        aria-label="Home"
        style={{ marginLeft: 24 }}
      >
        {isOpen ? <LogoFull /> : <LogoIcon />}
      </Link>
    </div>
  );
};
